//! Media storage: type detection, allow-list, atomic placement under random names (issue 5).

use std::path::Path;

/// Remove temporary upload files left behind by a crash. Called once at start.
pub fn sweep_temp_files(_media_dir: &Path) {}
