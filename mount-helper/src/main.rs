//! `/sbin/mount.gluster-rs` (also installed as `/sbin/mount.glusterfs`): see the library crate.

use std::path::Path;
use std::process::ExitCode;

use mount_gluster_rs::{one_line, run, wiring};

fn main() -> ExitCode {
    let mut argv = std::env::args_os();
    let prog = argv
        .next()
        .and_then(|a| {
            Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "mount.gluster-rs".to_string());
    // Single-threaded up to here: `run` forks before any runtime or thread starts.
    match run(argv, &prog, wiring::gluster_rs_client) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{prog}: {}", one_line(&e.to_string()));
            ExitCode::from(e.exit_code())
        }
    }
}
