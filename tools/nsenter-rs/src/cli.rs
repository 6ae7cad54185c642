use clap::Parser;

/// create namespaces and enter a live container's namespaces
#[derive(Debug, Parser)]
pub struct Cli {
    #[command(flatten)]
    pub dirs: common::state::Dirs,
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
