//! Thumbnail time and peak memory for a 12-megapixel phone photo (4000 × 3000 JPEG), on one
//! core: the figures of the thumbnails table in docs/benchmarks.md.
//!
//! The photo is made here (a gradient with fine noise, so it compresses like a photo: ~3 MB at
//! quality 90), then each run is a child process of this bench pinned to one CPU, which decodes it
//! and writes the thumbnail exactly as the server does (`storage::pictures::thumbnail`, with
//! the default `--max-image-pixels`). The child reports its time and its peak RSS (`VmHWM`), so
//! the photo made by the parent is not counted.
//!
//! ```text
//! cargo bench --bench thumbnails
//! ```

use std::path::Path;
use std::time::Instant;

use natter::storage::media_folder::MediaKind;
use natter::storage::pictures;

const RUNS: usize = 5;

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn pin_to_one_cpu() {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET and sched_setaffinity only read
    // and write it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// The child: one thumbnail of `photo` into `out`; prints `millis peak_kib`.
fn child(photo: &Path, out: &Path) {
    pin_to_one_cpu();
    let before = vm_hwm_kib();
    let started = Instant::now();
    let header = pictures::header(photo, MediaKind::Jpeg, 40_000_000).expect("the header");
    pictures::thumbnail(photo, MediaKind::Jpeg, 40_000_000, out, header.copy_kind()).expect("a thumbnail");
    let took = started.elapsed();
    println!("{} {} {}", took.as_secs_f64() * 1000.0, vm_hwm_kib(), before);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        return child(Path::new(&args[at + 1]), Path::new(&args[at + 2]));
    }
    let dir = tempfile::tempdir().expect("a scratch folder");
    let photo = dir.path().join("phone.jpg");
    let (width, height) = (4000u32, 3000u32);
    let mut noise = 0x2545_f491_u32;
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        noise ^= noise << 13;
        noise ^= noise >> 17;
        noise ^= noise << 5;
        let n = (noise & 31) as i32 - 16;
        let c = |v: u32| (v as i32 + n).clamp(0, 255) as u8;
        image::Rgb([c(x * 255 / width), c(y * 255 / height), c(((x + y) / 31) % 256)])
    });
    let file = std::fs::File::create(&photo).expect("create the photo");
    let mut writer = std::io::BufWriter::new(file);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut writer, 90)
        .encode_image(&picture)
        .expect("encode the photo");
    drop(writer);
    drop(picture);
    let size = std::fs::metadata(&photo).expect("the photo").len();
    println!(
        "photo: {width} × {height} JPEG, {:.1} MB; {RUNS} runs, each a process pinned to CPU 0",
        size as f64 / 1e6
    );
    let mut times = Vec::new();
    let mut peaks = Vec::new();
    let mut thumb_size = 0;
    for run in 0..RUNS {
        let out = dir.path().join(format!("thumb-{run}.jpg"));
        let output = std::process::Command::new(std::env::current_exe().expect("this bench"))
            .args(["--child", photo.to_str().unwrap(), out.to_str().unwrap()])
            .output()
            .expect("run a child");
        let text = String::from_utf8_lossy(&output.stdout);
        let fields: Vec<f64> = text.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        assert!(fields.len() == 3, "the child said: {text} {}", String::from_utf8_lossy(&output.stderr));
        times.push(fields[0]);
        peaks.push(fields[1] / 1024.0);
        thumb_size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        println!(
            "run {run}: {:.0} ms, peak RSS {:.1} MB (before decoding: {:.1} MB)",
            fields[0],
            fields[1] / 1024.0,
            fields[2] / 1024.0
        );
    }
    times.sort_by(f64::total_cmp);
    peaks.sort_by(f64::total_cmp);
    println!(
        "thumbnail 640 × 480 ({:.0} KB): median {:.0} ms, peak RSS median {:.1} MB",
        thumb_size as f64 / 1e3,
        times[RUNS / 2],
        peaks[RUNS / 2]
    );
}
