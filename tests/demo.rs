//! The newcomer's path (issue 6): `closeloop demo` through the real binary, the
//! sample config, `--help` examples, and every command line the README shows.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use clap::{CommandFactory, Parser};
use closeloop::cli::Cli;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_closeloop");

/// The binary with no `CLOSELOOP_*` overrides from the caller's environment.
fn closeloop(cwd: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(cwd);
    for (k, _) in std::env::vars() {
        if k.starts_with("CLOSELOOP_") {
            c.env_remove(k);
        }
    }
    c
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

fn ok(o: &Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = common::all_files(dir);
    out.sort();
    out
}

/// A letter's header value and decoded text.
fn letter(path: &Path) -> (mail_parser::Message<'static>, String) {
    let raw = std::fs::read(path).unwrap();
    let m = mail_parser::MessageParser::default()
        .parse(&raw)
        .unwrap()
        .into_owned();
    let body = m.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
    (m, body)
}

#[test]
fn the_demo_walks_the_whole_loop_and_leaves_no_plaintext_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let run = closeloop(tmp.path())
        .args(["demo", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let story = ok(&run, "closeloop demo");

    // The story names what happened.
    for want in [
        "01-gmail-build-log  report: opened case CL-1",
        "02-outlook-jira     report: joined case CL-1 (the same secret)",
        "03-typed-slack      report: joined case CL-1 (the same secret)",
        "04-typed-github     report: opened case CL-2",
        "05-typed-gcp-sa     report: opened case CL-3",
        "06-external-sender  quarantined: sender domain 'freemail.example.net'",
        "07-out-of-office    ignored: automatic message (Auto-Submitted: auto-replied)",
        "r1  REJECTED, nothing changed on CL-1: line 2: `resolve remediated` needs at least one `action`",
        "r2  applied; CL-1 is resolved: remediated",
        "r3  applied; CL-3 is resolved: false-positive",
        "r4  applied; CL-2 stays open",
        "duplicates joined                  2",
        "quarantined messages               1",
        "ignored messages                   1",
        "loop closed (outcome letter sent)  80% (4 of 5 reports)",
        "The outcome letter to alice@example.org",
        "What we did:",
    ] {
        assert!(story.contains(want), "missing {want:?} in:\n{story}");
    }

    // Every reporter of the AWS case got an outcome, threaded under their own message.
    let letters = dir.join("letters");
    for (who, their_id) in [
        (
            "alice@example.org",
            "CAGdemo01+build4411.alice@mail.gmail.com",
        ),
        (
            "bob@example.org",
            "DB9PR10MB0042demo02@DB9PR10MB0042.eurprd10.prod.outlook.com",
        ),
        (
            "carol@example.org",
            "demo03.3f9a1c@laptop-carol.example.org",
        ),
    ] {
        let path = files_under(&letters)
            .into_iter()
            .find(|p| {
                p.file_name().is_some_and(|n| {
                    n.to_string_lossy()
                        .ends_with(&format!("-outcome-{who}.eml"))
                })
            })
            .unwrap_or_else(|| panic!("no outcome letter for {who}"));
        assert!(story.contains(&path.strip_prefix(&dir).unwrap().display().to_string()));
        let (m, body) = letter(&path);
        assert!(m.subject().unwrap().contains("[CL-1]"), "{:?}", m.subject());
        assert_eq!(m.in_reply_to().as_text(), Some(their_id), "{who}");
        assert!(
            body.contains("What we did:") && body.contains("deactivated the leaked access key")
        );
        assert_eq!(
            m.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-replied")
        );
    }

    // The folder is a working installation.
    let cfg = dir.join("closeloop.toml");
    let listed = closeloop(tmp.path())
        .arg("--config")
        .arg(&cfg)
        .args(["cases", "--status", "all", "--json"])
        .output()
        .unwrap();
    let cases: Value = serde_json::from_str(&ok(&listed, "cases --json")).unwrap();
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 3, "{cases:?}");
    let by_id = |id: &str| cases.iter().find(|c| c["id"] == id).unwrap().clone();
    let aws = by_id("CL-1");
    assert_eq!(aws["status"], "resolved");
    assert_eq!(aws["outcome"], "remediated");
    assert_eq!(aws["report_count"], 3);
    assert_eq!(aws["reporters"].as_array().unwrap().len(), 3);
    assert_eq!(by_id("CL-2")["status"], "open");
    assert_eq!(by_id("CL-2")["category"], "secret-leak");
    assert_eq!(by_id("CL-3")["outcome"], "false-positive");
    let shown = closeloop(tmp.path())
        .arg("--config")
        .arg(&cfg)
        .args(["case", "show", "CL-1"])
        .output()
        .unwrap();
    ok(&shown, "case show");

    // No plaintext secret anywhere: files (db, -wal, key, letters, maildir),
    // decoded letter text, and what was printed.
    let secrets = closeloop::demo::planted_secrets();
    assert_eq!(secrets.len(), 3);
    let mut haystacks: Vec<(String, Vec<u8>)> = vec![
        ("stdout".into(), run.stdout.clone()),
        ("stderr".into(), run.stderr.clone()),
        ("cases stdout".into(), listed.stdout.clone()),
        ("case show stdout".into(), shown.stdout.clone()),
    ];
    let files = files_under(&dir);
    assert!(files.iter().any(|p| p.ends_with("closeloop.db")));
    for p in files {
        if p.extension().is_some_and(|e| e == "eml") {
            haystacks.push((
                format!("{} (decoded)", p.display()),
                letter(&p).1.into_bytes(),
            ));
        }
        haystacks.push((p.display().to_string(), std::fs::read(&p).unwrap()));
    }
    for (name, bytes) in &haystacks {
        for s in &secrets {
            let found = bytes.windows(s.len()).any(|w| w == s.as_bytes());
            assert!(!found, "a planted secret appears in {name}");
            // Half of a secret is still too much.
            let half = &s.as_bytes()[s.len() / 4..s.len() * 3 / 4];
            assert!(
                !bytes.windows(half.len()).any(|w| w == half),
                "part of a planted secret appears in {name}"
            );
        }
    }
}

#[test]
fn the_demo_defaults_to_a_new_folder_under_var_demo() {
    let tmp = tempfile::tempdir().unwrap();
    let run = closeloop(tmp.path()).arg("demo").output().unwrap();
    ok(&run, "closeloop demo");
    let made: Vec<PathBuf> = std::fs::read_dir(tmp.path().join("var/demo"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(made[0].join("closeloop.toml").is_file());
    assert!(made[0].join("letters").is_dir());
    // A second demo into the same, now filled, folder is refused as bad usage.
    let again = closeloop(tmp.path())
        .args(["demo", "--dir"])
        .arg(&made[0])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("not empty"));
}

#[test]
fn the_sample_config_runs_as_is() {
    let tmp = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/closeloop.toml");
    let run = closeloop(tmp.path())
        .arg("--config")
        .arg(&sample)
        .arg("check-config")
        .output()
        .unwrap();
    let out = ok(&run, "check-config with config/closeloop.toml");
    assert!(!out.contains("FAIL") && !out.contains("warn"), "{out}");
    assert!(tmp.path().join("var/closeloop.db").is_file());
}

/// The `[intake.oauth2]` examples — the README's TOML blocks and the sample config's
/// commented table, uncommented — are configs closeloop accepts, key for key.
#[test]
fn the_oauth2_examples_are_valid_config() {
    use closeloop::config::Config;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let env = |kind: &str| {
        [
            ("CLOSELOOP_INTAKE_KIND", kind),
            ("CLOSELOOP_INTAKE_HOST", "imap.example.org"),
            ("CLOSELOOP_INTAKE_USERNAME", "security@example.org"),
            ("CLOSELOOP_INTAKE_AUTH", "xoauth2"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    };
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks: Vec<&str> = readme
        .split("```toml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert!(!blocks.is_empty(), "no TOML block in the README");
    for block in blocks {
        let block: String = block.lines().map(|l| format!("{}\n", l.trim())).collect();
        let text = format!("{block}\n[responders]\nauth = \"none\"\n").replacen(
            "[intake]\n",
            "[intake]\nallowed_domains = [\"example.org\"]\n",
            1,
        );
        let cfg = Config::from_toml(Path::new("README.md"), &text, env("imap"))
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(cfg.intake.oauth2.is_some(), "{text}");
    }

    let sample = std::fs::read_to_string(root.join("config/closeloop.toml")).unwrap();
    let start = sample
        .find("# [intake.oauth2]")
        .expect("the sample config shows [intake.oauth2]");
    let mut text = sample[..start].to_string();
    // The table's header and keys, up to the first line that is neither.
    let mut lines = sample[start..].lines().peekable();
    while let Some(l) = lines
        .peek()
        .and_then(|l| l.strip_prefix("# "))
        .filter(|l| l.starts_with('[') || l.contains(" = "))
    {
        text.push_str(&format!("{l}\n"));
        lines.next();
    }
    for line in lines {
        text.push_str(&format!("{line}\n"));
    }
    let cfg = Config::from_toml(Path::new("closeloop.toml"), &text, env("imap"))
        .unwrap_or_else(|e| panic!("{e}"));
    let o = cfg.intake.oauth2.expect("[intake.oauth2] uncommented");
    assert!(o.client_secret_file.is_some() && o.refresh_token_file.is_some());
}

#[test]
fn every_subcommand_help_shows_an_example() {
    fn walk(cmd: &clap::Command, path: &str) {
        for sub in cmd.get_subcommands() {
            let name = format!("{path} {}", sub.get_name());
            let help = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                help.contains("Example") && help.contains("closeloop "),
                "`{name} --help` shows no example"
            );
            walk(sub, &name);
        }
    }
    walk(&Cli::command(), "closeloop");
}

/// Splits a shell line into words: quotes group, `\` escapes, `#` starts a comment.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => cur.extend(chars.next()),
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// Command lines in the README's code blocks: `closeloop …` (also after a pipe)
/// and `cargo run … -- …`, as argument vectors for the CLI.
fn readme_commands(readme: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    // Shell blocks only: ```text blocks hold diagrams, letters and MTA config.
    let mut fence: Option<String> = None;
    for line in readme.lines() {
        if let Some(info) = line.trim_start().strip_prefix("```") {
            fence = match fence {
                None => Some(info.trim().to_string()),
                Some(_) => None,
            };
            continue;
        }
        if !matches!(
            fence.as_deref(),
            Some("" | "sh" | "bash" | "shell" | "console")
        ) {
            continue;
        }
        let line = line.trim().trim_start_matches("$ ");
        for segment in line.split(" | ") {
            let mut segment = segment.trim();
            // `sudo -u closeloop closeloop …`
            if segment.starts_with("sudo ") {
                match segment.find(" closeloop ") {
                    Some(i) => segment = &segment[i + 1..],
                    None => continue,
                }
                if segment.starts_with("closeloop closeloop ") {
                    segment = &segment["closeloop ".len()..];
                }
            }
            let args = if segment.starts_with("closeloop ") || segment == "closeloop" {
                shell_words(segment)
            } else if segment.starts_with("cargo run") {
                let words = shell_words(segment);
                let Some(i) = words.iter().position(|w| w == "--") else {
                    continue;
                };
                std::iter::once("closeloop".to_string())
                    .chain(words[i + 1..].iter().cloned())
                    .collect()
            } else {
                continue;
            };
            out.push((line.to_string(), args));
        }
    }
    out
}

#[test]
fn every_command_line_in_the_readme_is_one_the_cli_accepts() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let commands = readme_commands(&readme);
    assert!(commands.len() >= 10, "too few commands found: {commands:?}");
    for (line, args) in &commands {
        match Cli::try_parse_from(args) {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
                ) => {}
            Err(e) => panic!("README line `{line}` is not accepted by the CLI:\n{e}"),
        }
    }
    // The first screen: exactly two commands, the demo and the full test suite.
    let first_block: Vec<&str> = readme
        .split("```")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        first_block,
        ["cargo run --release -- demo", "tests/run.sh"],
        "the README's first code block"
    );
    assert!(Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/run.sh")
        .is_file());
}

#[test]
fn the_readme_command_finder_sees_pipes_and_cargo() {
    let md = "```\n$ closeloop cases\nprintf 'a|b' | closeloop --config x.toml respond --as a@b.org CL-1\ncargo run --release -- demo  # the demo\nclassify secret-leak | other\nsudo -u closeloop closeloop migrate\n```\ncloseloop outside\n```text\ncloseloop unix - n n - - pipe\n```\n";
    let found: Vec<Vec<String>> = readme_commands(md).into_iter().map(|(_, a)| a).collect();
    assert_eq!(
        found,
        [
            vec!["closeloop", "cases"],
            vec![
                "closeloop",
                "--config",
                "x.toml",
                "respond",
                "--as",
                "a@b.org",
                "CL-1"
            ],
            vec!["closeloop", "demo"],
            vec!["closeloop", "migrate"],
        ]
    );
}
