//! Privileged real-effect tests (run by `make test` as root with `--include-ignored`).

use assert_cmd::Command;

fn nsenter_rs() -> Command {
    Command::cargo_bin("nsenter-rs").unwrap()
}

fn status_field(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

#[test]
#[ignore = "requires root"]
fn new_pid_namespace_makes_the_command_pid_1() {
    let out = nsenter_rs()
        .args(["--new=pid,mnt", "--mount-proc", "--", "sh", "-c", "echo $$"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
}

#[test]
#[ignore = "requires root"]
fn container_gets_docker_default_caps_and_no_new_privs() {
    let out = nsenter_rs()
        .args([
            "--new=pid,mnt",
            "--mount-proc",
            "--",
            "cat",
            "/proc/self/status",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = String::from_utf8_lossy(&out.stdout);
    assert_eq!(status_field(&status, "CapEff:"), "00000000a80425fb");
    assert_eq!(status_field(&status, "CapAmb:"), "0000000000000000");
    assert_eq!(status_field(&status, "NoNewPrivs:"), "1");
}

#[test]
#[ignore = "requires root"]
fn uts_namespace_hides_the_hostname() {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let out = nsenter_rs()
        .args([
            "--new=uts",
            "--hostname",
            "root-test",
            "--",
            "cat",
            "/proc/sys/kernel/hostname",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "root-test");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host
    );
}

#[test]
#[ignore = "requires root"]
fn exec_errors_are_126_and_127() {
    let out = nsenter_rs()
        .args(["--new=uts", "--", "/no/such/cmd"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    let out = nsenter_rs()
        .args(["--new=uts", "--", "/etc/hostname"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(126));
}
