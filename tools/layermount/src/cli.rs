use clap::Parser;

/// images, a content-addressed layer store and overlay mounts
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
