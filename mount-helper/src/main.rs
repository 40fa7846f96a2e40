//! `/sbin/mount.gluster-rs` (also installed as `/sbin/mount.glusterfs`): see the library crate.

use std::path::Path;
use std::process::ExitCode;

use mount_gluster_rs::{one_line, run, wiring};

/// The client daemon allocates small buffers on every request (RPC records, replies, dicts);
/// mimalloc's thread-local free lists cost less CPU per request than glibc malloc (~10% of the
/// client's cycles on small-file work went to malloc/free).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
