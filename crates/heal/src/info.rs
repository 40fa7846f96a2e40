//! `heal info`, `heal info split-brain` and `heal statistics`, in the format GlusterFS prints them
//! (heal/src/glfs-heal.c, cli/src/cli-rpc-ops.c), computed as AFR computes `glusterfs.heal-info`
//! (afr-common.c `afr_get_heal_info`, `afr_lockless_inspect`, `afr_update_heal_status`): without
//! taking locks, from the markers and the lock counts the bricks report.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use fop::Gfid;
use serde::Serialize;

use crate::heal_caller;
use crate::index::{self, IndexKind};
use crate::inspect::{discover, inspect, Discovery, Inspection};
use crate::markers::HealType;
use crate::replica::ReplicaSet;
use crate::stats::{CrawlEvent, History};
use crate::volume::HealVolume;

/// What `glusterfs.heal-info` says of an inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InfoKind {
    /// Needs heal.
    Heal,
    /// A self-heal holds the inode's self-heal lock.
    PossiblyHealing,
    SplitBrain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InfoStatus {
    pub kind: InfoKind,
    /// Some copy blames another (`-pending`); otherwise only dirty markers or differences.
    pub pending: bool,
}

/// `afr_lockless_inspect` + `afr_update_heal_status`: the heal-info status of one inode from an
/// unlocked discovery, or None ("no-heal").
pub fn heal_info_status(rs: &ReplicaSet, d: &Discovery) -> Option<InfoStatus> {
    let log = d.changelog();
    let pending = HealType::ALL.iter().any(|&t| log.any_pending(t));
    let (needs, first) = match inspect(d) {
        Inspection::TypeMismatch => {
            return Some(InfoStatus {
                kind: InfoKind::SplitBrain,
                pending,
            })
        }
        Inspection::Unavailable { .. } => return None,
        Inspection::Needs(n, f) => (n, f),
    };
    let answered = d.answered();
    let mut incomplete = false;
    // Metadata, data, entry: the order of afr_lockless_inspect.
    for ty in [HealType::Metadata, HealType::Data, HealType::Entry] {
        if !needs.get(ty) {
            continue;
        }
        match log.find_direction(ty, &answered, rs.opts.quorum_count) {
            Ok(dir) if dir.split_brain => {
                return Some(InfoStatus {
                    kind: InfoKind::SplitBrain,
                    pending,
                })
            }
            Ok(_) => {}
            Err(_) => {
                incomplete = true;
                break;
            }
        }
    }
    if incomplete {
        return needs.any().then_some(InfoStatus {
            kind: InfoKind::Heal,
            pending,
        });
    }
    let io_locks = d.lock_count(&rs.name);
    let shd_locks = d.lock_count(&rs.sh_domain());
    if !pending {
        let types: &[HealType] = if first.is_dir() {
            &[HealType::Metadata, HealType::Entry]
        } else if first.is_reg() {
            &[HealType::Metadata, HealType::Data]
        } else {
            &[HealType::Metadata]
        };
        let non_unary = types
            .iter()
            .any(|&t| (0..rs.n()).any(|i| log.dirty(i, t) > 1));
        if !(non_unary || io_locks == 0) {
            return None;
        }
    } else if shd_locks > 0 {
        return Some(InfoStatus {
            kind: InfoKind::PossiblyHealing,
            pending,
        });
    }
    needs.any().then_some(InfoStatus {
        kind: InfoKind::Heal,
        pending,
    })
}

/// One entry of a brick's report.
#[derive(Debug, Clone, Serialize)]
pub struct InfoEntry {
    /// The brick's path for it, or `<gfid:...>`.
    pub path: String,
    pub gfid: String,
    pub status: InfoKind,
}

/// One brick's report.
#[derive(Debug, Clone, Serialize)]
pub struct BrickReport {
    pub brick: String,
    pub replica: String,
    /// "Connected", or why the brick could not be read.
    pub status: String,
    pub entries: Vec<InfoEntry>,
    /// None when the brick could not be read.
    pub count: Option<u64>,
}

async fn brick_report(
    rs: &ReplicaSet,
    i: usize,
    split_brain_only: bool,
    cache: &mut BTreeMap<Gfid, Option<InfoStatus>>,
) -> BrickReport {
    let b = &rs.bricks[i];
    let c = heal_caller();
    let mut report = BrickReport {
        brick: b.label.clone(),
        replica: rs.name.clone(),
        status: "Connected".to_string(),
        entries: Vec::new(),
        count: Some(0),
    };
    if !b.is_connected() {
        report.status = crate::strerror(libc::ENOTCONN);
        report.count = None;
        return report;
    }
    let up = rs.up();
    let mut listed: BTreeSet<Gfid> = BTreeSet::new();
    for kind in [IndexKind::Xattrop, IndexKind::Dirty] {
        let (vg, gfids) = match index::list_gfids(b, &c, kind).await {
            Ok(x) => x,
            Err(e) if e.is(libc::ENOENT) || e.is(libc::ESTALE) || e.is(libc::ENOTSUP) => continue,
            Err(e) => {
                report.status = crate::strerror(e.errno());
                if report.entries.is_empty() {
                    report.count = None;
                }
                return report;
            }
        };
        for g in gfids {
            if !listed.insert(g) {
                continue;
            }
            let status = match cache.get(&g) {
                Some(s) => *s,
                None => {
                    let d = discover(rs, &c, g, &up).await;
                    let s = heal_info_status(rs, &d);
                    cache.insert(g, s);
                    s
                }
            };
            let Some(status) = status else { continue };
            // The dirty index repeats what the xattrop index shows when markers are pending.
            if kind == IndexKind::Dirty && status.pending {
                continue;
            }
            if split_brain_only && status.kind != InfoKind::SplitBrain {
                continue;
            }
            let path = match index::gfid_to_path(b, &c, g).await {
                Ok(p) => p,
                Err(e) if e.is(libc::ENOENT) || e.is(libc::ESTALE) => {
                    let _ = index::purge(b, &c, vg, g.to_string().as_bytes()).await;
                    continue;
                }
                Err(_) => format!("<gfid:{g}>"),
            };
            report.entries.push(InfoEntry {
                path,
                gfid: g.to_string(),
                status: status.kind,
            });
        }
    }
    report.count = Some(report.entries.len() as u64);
    report
}

/// `heal info` (or `info split-brain`) of every brick, in volfile order.
pub async fn heal_info(vol: &HealVolume, split_brain_only: bool) -> Vec<BrickReport> {
    let mut out = Vec::new();
    for rs in &vol.replicas {
        let mut cache = BTreeMap::new();
        for i in 0..rs.n() {
            out.push(brick_report(rs, i, split_brain_only, &mut cache).await);
        }
    }
    out
}

/// The text glfsheal prints (`glfsh_print_hr_heal_status`, `glfsh_print_hr_heal_op_status`).
pub fn format_info(reports: &[BrickReport], split_brain_only: bool) -> String {
    let mut s = String::new();
    let label = if split_brain_only {
        "Number of entries in split-brain:"
    } else {
        "Number of entries:"
    };
    for r in reports {
        let _ = writeln!(s, "Brick {}", r.brick);
        for e in &r.entries {
            if split_brain_only {
                let _ = writeln!(s, "{}", e.path);
            } else {
                let suffix = match e.status {
                    InfoKind::Heal => " ",
                    InfoKind::PossiblyHealing => " - Possibly undergoing heal",
                    InfoKind::SplitBrain => " - Is in split-brain",
                };
                let _ = writeln!(s, "{}{}", e.path, suffix);
            }
        }
        let _ = writeln!(s, "Status: {}", r.status);
        match r.count {
            Some(n) => {
                let _ = writeln!(s, "{label} {n}");
            }
            None => {
                let _ = writeln!(s, "{label} -");
            }
        }
        s.push('\n');
    }
    s
}

/// `heal statistics heal-count` per brick: the xattrop index sizes.
#[derive(Debug, Clone, Serialize)]
pub struct HealCount {
    pub brick: String,
    pub status: String,
    pub count: Option<u64>,
}

pub async fn heal_counts(vol: &HealVolume) -> Vec<HealCount> {
    let c = heal_caller();
    let mut out = Vec::new();
    for rs in &vol.replicas {
        for b in &rs.bricks {
            let (status, count) = if !b.is_connected() {
                (crate::strerror(libc::ENOTCONN), None)
            } else {
                match index::pending_count(b, &c).await {
                    Ok(n) => (String::new(), Some(n)),
                    Err(e) => (crate::strerror(e.errno()), None),
                }
            };
            out.push(HealCount {
                brick: b.label.clone(),
                status,
                count,
            });
        }
    }
    out
}

/// `ctime(3)`'s format, in UTC: `Mon Jan  2 15:04:05 2006`.
pub fn ctime(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let wd = DAYS.get((days % 7) as usize).copied().unwrap_or("???");
    let mn = MONTHS
        .get((month - 1).clamp(0, 11) as usize)
        .copied()
        .unwrap_or("???");
    format!("{wd} {mn} {d:>2} {h:02}:{m:02}:{s:02} {year}")
}

/// The statistics text of `gluster volume heal VOL statistics` for the crawls recorded per
/// replica set, repeated for each brick of the set (glustershd keeps them per brick).
pub fn format_statistics(vol: &HealVolume, history: Option<&History>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Gathering crawl statistics on volume {} has been successful ",
        vol.name
    );
    let mut brick_no = 0;
    for rs in &vol.replicas {
        let crawls: &[CrawlEvent] = history
            .and_then(|h| h.crawls.get(&rs.name))
            .map_or(&[], Vec::as_slice);
        for b in &rs.bricks {
            let host = b.label.split(':').next().unwrap_or("");
            let _ = writeln!(s, "------------------------------------------------");
            let _ = writeln!(s, "\nCrawl statistics for brick no {brick_no}");
            let _ = writeln!(s, "Hostname of brick {host}");
            for e in crawls {
                let _ = writeln!(s, "\nStarting time of crawl: {}\n", ctime(e.start));
                match e.end {
                    Some(end) => {
                        let _ = writeln!(s, "Ending time of crawl: {}\n", ctime(end));
                    }
                    None => {
                        let _ = writeln!(s, "Crawl is in progress");
                    }
                }
                let _ = writeln!(s, "Type of crawl: {}", e.crawl_type.as_str());
                let _ = writeln!(s, "No. of entries healed: {}", e.healed);
                let _ = writeln!(s, "No. of entries in split-brain: {}", e.split_brain);
                let _ = writeln!(s, "No. of heal failed entries: {}", e.heal_failed);
            }
            brick_no += 1;
        }
    }
    s
}

/// The text of `statistics heal-count`.
pub fn format_heal_counts(vol: &str, counts: &[HealCount]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Gathering count of entries to be healed on volume {vol} has been successful "
    );
    for c in counts {
        let _ = writeln!(s, "\nBrick {}", c.brick);
        if !c.status.is_empty() {
            let _ = writeln!(s, "Status: {}", c.status);
        }
        match c.count {
            Some(n) => {
                let _ = writeln!(s, "Number of entries: {n}");
            }
            None => {
                let _ = writeln!(s, "No gathered input for this brick");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_format() {
        assert_eq!(ctime(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(ctime(1_136_214_245), "Mon Jan  2 15:04:05 2006");
        assert_eq!(ctime(1_709_251_199), "Thu Feb 29 23:59:59 2024");
    }

    #[test]
    fn info_text() {
        let r = vec![
            BrickReport {
                brick: "vm:/b1".into(),
                replica: "v-replicate-0".into(),
                status: "Connected".into(),
                entries: vec![
                    InfoEntry {
                        path: "/a".into(),
                        gfid: "x".into(),
                        status: InfoKind::Heal,
                    },
                    InfoEntry {
                        path: "/b".into(),
                        gfid: "y".into(),
                        status: InfoKind::SplitBrain,
                    },
                ],
                count: Some(2),
            },
            BrickReport {
                brick: "vm:/b2".into(),
                replica: "v-replicate-0".into(),
                status: "Transport endpoint is not connected".into(),
                entries: vec![],
                count: None,
            },
        ];
        assert_eq!(
            format_info(&r, false),
            "Brick vm:/b1\n/a \n/b - Is in split-brain\nStatus: Connected\nNumber of entries: 2\n\n\
             Brick vm:/b2\nStatus: Transport endpoint is not connected\nNumber of entries: -\n\n"
        );
        assert!(format_info(&r, true).contains("Number of entries in split-brain: 2"));
    }
}
