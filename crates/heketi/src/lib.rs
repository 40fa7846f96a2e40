//! Heketi volume lifecycle: client module, CLI verbs and server (work in progress).

/// `gluster-rs heketi ...` arguments.
#[derive(Debug, clap::Args)]
pub struct HeketiArgs {
    /// Raw arguments (replaced by the real verbs).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum HeketiError {
    #[error("not implemented yet: {0}")]
    Unimplemented(String),
}

/// Run one `gluster-rs heketi` invocation.
pub async fn run(args: HeketiArgs) -> Result<(), HeketiError> {
    Err(HeketiError::Unimplemented(args.rest.join(" ")))
}
