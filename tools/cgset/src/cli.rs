use clap::Parser;

/// control groups: create, limit, run in, watch, freeze, kill and delete
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
