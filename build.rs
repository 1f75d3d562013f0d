//! The build step: the web UI (`static/`) and the API viewer (`docs-viewer/`) are gzipped into
//! `OUT_DIR`, and those are what the binary embeds (rust-embed, in `web.rs` and `api/docs.rs`).
//!
//! Why: the files are text (JavaScript, CSS, HTML) and shrink to about a quarter; the API
//! viewer alone is 1.9 MB raw and 0.5 MB gzipped. The server hands a browser the gzipped bytes
//! as they are (`Content-Encoding: gzip`, every browser accepts it, also over plain http), so
//! serving costs no compression work and no memory, and the rare client without gzip gets them
//! inflated on the fly. The archives are deterministic (no name, mtime 0), so a rebuild of the
//! same files embeds the same bytes and the UI's version digest does not change.

use std::env;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (source, target) in [("static", "ui"), ("docs-viewer", "viewer")] {
        println!("cargo:rerun-if-changed={source}");
        let target = out.join(target);
        // Files removed from the source must not linger in the copy.
        let _ = fs::remove_dir_all(&target);
        gzip_tree(Path::new(source), &target);
    }
}

/// Every file under `source`, gzipped at the highest level, at the same relative path under
/// `target`.
fn gzip_tree(source: &Path, target: &Path) {
    fs::create_dir_all(target).unwrap_or_else(|e| panic!("create {}: {e}", target.display()));
    let mut entries: Vec<_> = fs::read_dir(source)
        .unwrap_or_else(|e| panic!("read {}: {e}", source.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().expect("a file name");
        if path.is_dir() {
            gzip_tree(&path, &target.join(name));
            continue;
        }
        let raw = fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let mut encoder = GzEncoder::new(Vec::with_capacity(raw.len() / 3), Compression::best());
        encoder.write_all(&raw).expect("gzip in memory");
        let packed = encoder.finish().expect("gzip in memory");
        fs::write(target.join(name), packed).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}
