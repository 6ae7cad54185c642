use clap::Parser;

/// container networks: bridge, veth, IPAM, NAT, published ports
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
