//! The command-line surface, unprivileged: help, version, usage errors, JSON shape.

use assert_cmd::Command;
use predicates::prelude::*;

fn ctr_ps() -> Command {
    Command::cargo_bin("ctr-ps").unwrap()
}

#[test]
fn help_and_version_go_to_stdout() {
    ctr_ps()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Usage: ctr-ps"))
        .stderr("");
    ctr_ps()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("ctr-ps (ctrkit) "));
    for sub in ["which", "procs", "ns", "inspect", "top"] {
        ctr_ps().args([sub, "--help"]).assert().success();
    }
}

#[test]
fn usage_errors_are_one_line_and_exit_2() {
    for args in [
        &["--no-such-flag"][..],
        &["-o", "id,colour"],
        &["--filter", "colour=red"],
        &["--json", "--jsonl"],
        &["-q", "ns"],
        &["which"],
        &["which", "abc"],
        &["top", "--interval", "5"],
        &["top", "--count", "0"],
        &["ns", "--type", "bogus"],
    ] {
        let out = ctr_ps().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("ctr-ps: error: "), "{args:?}: {err}");
        assert!(!err.contains("panicked at"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn json_list_is_an_array() {
    let out = ctr_ps().arg("--json").output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.is_array());
}

#[test]
fn unknown_container_is_a_failure_naming_it() {
    ctr_ps()
        .args(["inspect", "no-such-container-xyz"])
        .assert()
        .code(1)
        .stderr("ctr-ps: error: no container 'no-such-container-xyz' on this host\n");
}
