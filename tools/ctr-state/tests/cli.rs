//! The command-line surface, unprivileged: help, version, usage errors, and the three
//! subcommands on a temporary folder.

use assert_cmd::Command;
use predicates::prelude::*;

fn ctr_state() -> Command {
    Command::cargo_bin("ctr-state").unwrap()
}

#[test]
fn help_and_version_go_to_stdout() {
    ctr_state()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Usage: ctr-state"))
        .stderr("");
    ctr_state()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("ctr-state (ctrkit) "));
    for sub in ["claim", "lock", "rm"] {
        ctr_state().args([sub, "--help"]).assert().success();
    }
}

#[test]
fn usage_errors_are_one_line_and_exit_2() {
    for args in [
        &[][..],
        &["claim"],
        &["lock"],
        &["lock", "-1"],
        &["lock", "nine"],
        &["rm"],
        &["frobnicate"],
    ] {
        ctr_state().args(args).assert().code(2).stderr(
            predicate::str::starts_with("ctr-state: error: ")
                .and(predicate::str::contains("\n").count(1)),
        );
    }
}

#[test]
fn claim_then_rm() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/b/web");
    ctr_state().arg("claim").arg(&dir).assert().code(1);
    ctr_state()
        .args(["claim", "-p"])
        .arg(&dir)
        .assert()
        .success();
    std::fs::create_dir_all(dir.join("x/y")).unwrap();
    std::fs::write(dir.join("x/y/f"), "f").unwrap();
    ctr_state()
        .arg("claim")
        .arg(&dir)
        .assert()
        .code(1)
        .stderr(predicate::str::ends_with("web: already exists\n"));
    ctr_state().arg("rm").arg(&dir).assert().success();
    assert!(!dir.exists());
    assert!(tmp.path().join("a/b").is_dir());
    // twice is fine
    ctr_state().arg("rm").arg(&dir).assert().success();
}
