mod cli;
mod cmd;
mod cni;
mod error;
mod etcfiles;
mod firewall;
mod ipnet;
mod ipv6;
mod model;
mod netlink;
mod netns;
mod nftnl;
mod ops;
mod ports;
mod store;

fn main() {
    if std::env::var_os("CNI_COMMAND").is_some() {
        cni::main()
    }
    common::run(
        "netbridge",
        include_str!("../../../man/netbridge.1.in"),
        cmd::dispatch,
    )
}
