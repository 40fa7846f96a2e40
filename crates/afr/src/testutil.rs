//! Fixtures shared by the unit tests of lookup interpretation (read.rs, selfheal.rs).

use fop::{Dict, Gfid, Iatt, Lookup};

/// Pending-marker keys of a three-brick volume `v`.
pub fn keys() -> Vec<String> {
    (0..3)
        .map(|i| format!("trusted.afr.v-client-{i}"))
        .collect()
}

/// A successful lookup answer.
pub fn reply(g: Gfid, mode: u32, size: u64, xdata: Dict) -> Option<fop::Result<Lookup>> {
    Some(Ok(Lookup {
        iatt: Iatt {
            gfid: g,
            mode,
            size,
            ..Iatt::default()
        },
        postparent: None,
        xdata,
    }))
}
