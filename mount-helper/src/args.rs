//! The helper's command line as util-linux passes it:
//! `mount.gluster-rs SPEC DIR [-sfnv] [-N NS] [-o OPTIONS] [-t TYPE]` (see mount(8), "External
//! helpers"). Flags may come before, between or after the two positional arguments, may be
//! grouped (`-fv`), `-o` may be repeated (the options are joined) and attached (`-oro`).

use std::ffi::OsString;
use std::path::PathBuf;

use crate::error::Error;
use crate::options::{parse_options_with, MountOptions};
use crate::spec::{parse_spec, VolumeSpec};

/// Flags of the helper itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HelperFlags {
    /// `-f`: do everything except contacting servers and mounting.
    pub fake: bool,
    /// `-v`: say what is being done on stderr.
    pub verbose: bool,
    /// `-n`: do not write /etc/mtab (nothing to do on a system with /proc/mounts; accepted).
    pub no_mtab: bool,
    /// `-s`: ignore unknown options with a warning instead of refusing them.
    pub sloppy: bool,
}

/// A parsed request to mount.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub spec: VolumeSpec,
    pub mountpoint: PathBuf,
    pub options: MountOptions,
    pub flags: HelperFlags,
    /// `-t TYPE` when given (`gluster-rs`, `glusterfs`, with or without `fuse.`).
    pub fstype: Option<String>,
    /// The `-o` strings joined with `,`, as received.
    pub raw_options: String,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Mount(Box<Invocation>),
    Help,
    Version,
}

/// File system types this helper answers to.
pub const FSTYPES: [&str; 4] = [
    "gluster-rs",
    "glusterfs",
    "fuse.gluster-rs",
    "fuse.glusterfs",
];

pub const USAGE: &str = "usage: mount.gluster-rs SERVER:/VOLUME[/SUBDIR] MOUNTPOINT [-sfnv] [-o OPTIONS] [-t gluster-rs]";

fn utf8(arg: OsString, what: &str) -> Result<String, Error> {
    arg.into_string().map_err(|a| {
        Error::Usage(format!(
            "{what} is not valid UTF-8: {}",
            a.to_string_lossy()
        ))
    })
}

/// Parse the arguments after argv[0].
pub fn parse_args<I, S>(args: I) -> Result<Command, Error>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let mut positional: Vec<OsString> = Vec::new();
    let mut opt_strings: Vec<String> = Vec::new();
    let mut flags = HelperFlags::default();
    let mut fstype = None;
    let mut only_positional = false;
    let mut it = args.into_iter().map(Into::into);

    while let Some(arg) = it.next() {
        if only_positional {
            positional.push(arg);
            continue;
        }
        let Some(s) = arg.to_str() else {
            // Not UTF-8: can only be a positional (a mount point path).
            positional.push(arg);
            continue;
        };
        match s {
            "--" => only_positional = true,
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--verbose" => flags.verbose = true,
            "--fake" => flags.fake = true,
            "--no-mtab" => flags.no_mtab = true,
            "--sloppy" => flags.sloppy = true,
            "--options" => opt_strings.push(value_of(&mut it, "--options")?),
            "--types" => fstype = Some(value_of(&mut it, "--types")?),
            "-" => positional.push(arg),
            _ if s.starts_with("--") => {
                if let Some(v) = s.strip_prefix("--options=") {
                    opt_strings.push(v.to_string());
                } else if let Some(v) = s.strip_prefix("--types=") {
                    fstype = Some(v.to_string());
                } else {
                    return Err(Error::Usage(format!("unknown argument '{s}'; {USAGE}")));
                }
            }
            _ if s.starts_with('-') => {
                // A group of short flags; -o/-t/-N take the rest of the word or the next word.
                let body = &s[1..];
                for (i, c) in body.char_indices() {
                    let rest = &body[i + c.len_utf8()..];
                    match c {
                        'f' => flags.fake = true,
                        'v' => flags.verbose = true,
                        'n' => flags.no_mtab = true,
                        's' => flags.sloppy = true,
                        'h' => return Ok(Command::Help),
                        'V' => return Ok(Command::Version),
                        'o' | 't' | 'N' => {
                            let v = if rest.is_empty() {
                                value_of(&mut it, &format!("-{c}"))?
                            } else {
                                rest.to_string()
                            };
                            match c {
                                'o' => opt_strings.push(v),
                                't' => fstype = Some(v),
                                _ => {
                                    return Err(Error::Unsupported {
                                        what: "-N (mount namespace)".into(),
                                        reason: format!(
                                            "run the mount inside namespace {v} instead"
                                        ),
                                    })
                                }
                            }
                            break;
                        }
                        _ => {
                            return Err(Error::Usage(format!(
                                "unknown flag '-{}'; {USAGE}",
                                c.escape_debug()
                            )))
                        }
                    }
                }
            }
            _ => positional.push(arg),
        }
    }

    if let Some(t) = &fstype {
        if !FSTYPES.contains(&t.as_str()) {
            return Err(Error::Usage(format!(
                "file system type '{t}' is not handled by this helper (expected gluster-rs or glusterfs)"
            )));
        }
    }
    let mut positional = positional.into_iter();
    let (Some(spec), Some(dir)) = (positional.next(), positional.next()) else {
        return Err(Error::Usage(format!(
            "expected a volume and a mount point; {USAGE}"
        )));
    };
    if let Some(extra) = positional.next() {
        return Err(Error::Usage(format!(
            "unexpected argument '{}'; {USAGE}",
            extra.to_string_lossy()
        )));
    }
    let spec_str = utf8(spec, "the volume spec")?;
    if dir.is_empty() {
        return Err(Error::Usage(format!("empty mount point; {USAGE}")));
    }

    let raw_options = opt_strings.join(",");
    // Options first: a bad option is reported even if the spec is bad too, as mount.glusterfs.
    let mut options = parse_options_with(&raw_options, flags.sloppy)?;
    let spec = parse_spec(&spec_str)?;
    merge_spec_and_options(&spec, &mut options)?;

    Ok(Command::Mount(Box::new(Invocation {
        spec,
        mountpoint: PathBuf::from(dir),
        options,
        flags,
        fstype,
        raw_options,
    })))
}

fn value_of(it: &mut impl Iterator<Item = OsString>, flag: &str) -> Result<String, Error> {
    let v = it
        .next()
        .ok_or_else(|| Error::Usage(format!("{flag} needs a value; {USAGE}")))?;
    utf8(v, &format!("the value of {flag}"))
}

/// Reconcile `volume-id=` and `subdir-mount=` with the spec; snapshots are read-only.
fn merge_spec_and_options(spec: &VolumeSpec, options: &mut MountOptions) -> Result<(), Error> {
    if let Some(id) = &options.volume_id {
        if id != &spec.volume && spec.snapshot.is_none() {
            return Err(Error::Conflict(format!(
                "volume-id={id} conflicts with volume '{}' of the mount spec",
                spec.volume
            )));
        }
    }
    if let (Some(opt), Some(from_spec)) = (&options.subdir_mount, &spec.subdir) {
        if opt != from_spec {
            return Err(Error::Conflict(format!(
                "subdir-mount=/{opt} conflicts with subdirectory '/{from_spec}' of the mount spec"
            )));
        }
    }
    if spec.snapshot.is_some() {
        if options.subdir_mount.is_some() {
            return Err(Error::Conflict(
                "a snapshot cannot be mounted with subdir-mount".into(),
            ));
        }
        options.read_only = true;
    }
    Ok(())
}

impl Invocation {
    /// The subdirectory to mount: from the spec, else from `subdir-mount=`.
    pub fn subdir(&self) -> Option<&str> {
        self.spec
            .subdir
            .as_deref()
            .or(self.options.subdir_mount.as_deref())
    }
}
