//! No plaintext secret, ever: plant one secret of every kind in a batch of
//! messages, run the real binary over them (ingest with debug logs, respond,
//! run --once to write the letters, cases/case show/scan output), then search
//! the SQLite file and its WAL, the key folder, every letter, all stdout and
//! stderr for each plaintext. None may appear.

mod common;

use common::*;

#[test]
fn planted_secrets_appear_in_no_output() {
    let d = Deployment::new("none");
    let planted = planted(42);
    let msgs = d.dir.path().join("in");
    std::fs::create_dir_all(&msgs).unwrap();
    let mut files = Vec::new();
    for (i, p) in planted.iter().enumerate() {
        // Alternate where the secret sits: body, subject, attachment, forwarded original,
        // an HTML-only body (a table cell, a `<pre>` block kept line by line, a comment,
        // a link's address, and the same escaped in a link wrapped by a mail filter).
        let raw = match i % 5 {
            0 => email("alice@example.org", "found a key", &format!("p{i}@x"), &[], &format!("look:\n{}\n", p.line)),
            1 => email("bob@example.org", &format!("leak: {}", p.line), &format!("p{i}@x"), &[], "see subject"),
            2 => format!(
                "From: carol@example.org\r\nSubject: env file\r\nMessage-ID: <p{i}@x>\r\nMIME-Version: 1.0\r\n\
                 Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nattached\r\n\
                 --b\r\nContent-Type: text/plain; name=prod.env\r\nContent-Disposition: attachment; filename=prod.env\r\n\r\n\
                 {}\r\n--b--\r\n",
                p.line
            )
            .into_bytes(),
            3 => format!(
                "From: dan@example.org\r\nSubject: Fwd: deploy log\r\nMessage-ID: <p{i}@x>\r\nMIME-Version: 1.0\r\n\
                 Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nforwarding\r\n\
                 --b\r\nContent-Type: message/rfc822\r\n\r\nFrom: ci@example.org\r\nSubject: deploy {i}\r\n\
                 Message-ID: <orig{i}@ci>\r\n\r\n{}\r\n--b--\r\n",
                p.line
            )
            .into_bytes(),
            _ => format!(
                "From: heidi@example.org\r\nSubject: pasted config\r\nMessage-ID: <p{i}@x>\r\n\
                 MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
                 <html><body><p>From the runner:</p><table><tr><td>env</td><td>{0}</td></tr></table>\
                 <pre>\r\n  job:\r\n    {0}\r\n</pre><!-- {0} -->\
                 <p><a href=\"https://ci.example/run?u=1&amp;token={1}\">the run</a>, \
                 <a href=\"https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fci.example%2Frun%3Fu%3D1%26token%3D{1}&amp;data=05%7C02\">wrapped</a>, \
                 <a href=\"https://urldefense.proofpoint.com/v2/url?u=https-3A__ci.example_run-3Fu-3D1-26token-3D{2}&amp;d=DwMFaQ&amp;c=euGZ&amp;e=\">v2</a>, \
                 <a href=\"https://urldefense.com/v3/__https://ci.example/run?u=1&amp;token={1}__;!!NpxR!Ab3$\">v3</a></p></body></html>\r\n",
                p.line,
                p.secret,
                proofpoint_v2(&p.secret)
            )
            .into_bytes(),
        };
        let path = msgs.join(format!("{i:02}.eml"));
        std::fs::write(&path, raw).unwrap();
        files.push(path);
    }
    // A stranger's message with a secret is quarantined: still nothing stored in plaintext.
    let stranger = msgs.join("stranger.eml");
    std::fs::write(
        &stranger,
        email(
            "x@evil.test",
            &format!("key {}", planted[0].secret),
            "s@x",
            &[],
            &planted[0].line,
        ),
    )
    .unwrap();
    files.push(stranger);
    // A sender address that is itself a token: letters could only go to it by keeping it.
    let pat = planted.iter().find(|p| p.kind == "github-pat").unwrap();
    let token_sender = msgs.join("token-sender.eml");
    std::fs::write(
        &token_sender,
        email(
            &format!("{}@example.org", pat.secret),
            "odd sender",
            "t@x",
            &[],
            "see who sent this",
        ),
    )
    .unwrap();
    files.push(token_sender);
    // A Message-ID that holds a key: stored, and quoted by the letters, as it is.
    let stripe = planted
        .iter()
        .find(|p| p.kind == "stripe-secret-key")
        .unwrap();
    let token_id = msgs.join("token-id.eml");
    std::fs::write(
        &token_id,
        email(
            "erin@example.org",
            "odd message id",
            &format!("{}@mail.example.org", stripe.secret),
            &[],
            "a bot account posts at night",
        ),
    )
    .unwrap();
    files.push(token_id);
    // A file named after a key: its name is the message's source, stored and printed.
    let glpat = planted.iter().find(|p| p.kind == "gitlab-pat").unwrap();
    let named = msgs.join(format!("{}.eml", glpat.secret));
    std::fs::write(
        &named,
        email(
            "frank@example.org",
            "named file",
            "f@x",
            &[],
            "a service account",
        ),
    )
    .unwrap();
    files.push(named);
    // The same in the Maildir that `run --once` reads: a file name is whatever the
    // program that delivered it chose.
    let twilio = planted.iter().find(|p| p.kind == "twilio-api-key").unwrap();
    let new = d.dir.path().join("maildir").join("new");
    std::fs::create_dir_all(&new).unwrap();
    std::fs::write(
        new.join(format!("1700000000.{}.host", twilio.secret)),
        email("grace@example.org", "delivered", "g@x", &[], "a deploy key"),
    )
    .unwrap();

    // A password found by its name in the body, and written again alone where nothing
    // names it: in the subject (and a link there), the sender's name, an attachment's
    // name, the forwarded original's subject, From and Date.
    let again = Planted {
        kind: "generic-secret",
        secret: format!("Kx{}7q", Rng::new(7).s(10, ALNUM)),
        line: String::new(),
    };
    let again_msg = msgs.join("again.eml");
    std::fs::write(
        &again_msg,
        format!(
            "From: \"Ops {0}\" <gina@example.org>\r\n\
             Subject: rotate {0} now, see https://ci.example/login?u=ci&p={0}\r\n\
             Message-ID: <again@x>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
             The log says DB_PASSWORD={0}\r\n--b\r\nContent-Type: text/plain; name=\"{0}.txt\"\r\n\
             Content-Disposition: attachment; filename=\"{0}.txt\"\r\n\r\njob output\r\n\
             --b\r\nContent-Type: message/rfc822\r\n\r\nFrom: \"CI {0}\" <ci@example.org>\r\n\
             Subject: deploy {0}\r\nDate: {0}\r\nMessage-ID: <orig-again@ci>\r\n\r\nbuild ok\r\n--b--\r\n",
            again.secret
        ),
    )
    .unwrap();
    files.push(again_msg);

    let mut outputs = Vec::new();
    let debug = [("CLOSELOOP_LOG", "debug")];
    let args: Vec<String> = std::iter::once("ingest".to_string())
        .chain(files.iter().map(|f| f.display().to_string()))
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_bin(&d.config_path, &args, None, &debug);
    assert!(
        out.status.success(),
        "ingest: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("quarantined"));
    outputs.push(out);

    // A responder quotes a secret in an action and a note; those are stored and sent redacted.
    let block = format!(
        "classify secret-leak\naction revoked {} and rotated\nnote old value was {}\nresolve remediated\n",
        planted[2].secret, planted[3].secret
    );
    let out = run_bin(
        &d.config_path,
        &["respond", "--as", "lead@example.org", "CL-1"],
        Some(block.as_bytes()),
        &debug,
    );
    assert!(
        out.status.success(),
        "respond: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    outputs.push(out);

    for args in [
        vec!["run", "--once"],
        vec!["cases", "--status", "all", "--json"],
        vec!["cases", "--status", "all"],
        vec!["case", "show", "CL-1", "--json"],
        vec!["case", "show", "CL-1"],
        vec!["quarantine"],
        vec!["quarantine", "--json"],
        vec!["stats"],
    ] {
        let out = run_bin(&d.config_path, &args, None, &debug);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if args == ["quarantine", "--json"] {
            assert!(
                String::from_utf8_lossy(&out.stdout)
                    .contains("holds text that looks like a secret"),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        outputs.push(out);
    }
    // `scan` finds every planted kind and prints none of them.
    let all_lines: String = planted.iter().map(|p| format!("{}\n", p.line)).collect();
    let out = run_bin(
        &d.config_path,
        &["scan"],
        Some(all_lines.as_bytes()),
        &debug,
    );
    assert!(out.status.success());
    let scanned = String::from_utf8_lossy(&out.stdout).to_string();
    for p in &planted {
        assert!(
            scanned.contains(&format!("\"kind\":\"{}\"", p.kind)),
            "scan missed {}: {scanned}",
            p.kind
        );
    }
    outputs.push(out);

    // Letters were written.
    let letters = all_files(&d.dir.path().join("letters"));
    assert!(
        letters
            .iter()
            .any(|p| p.to_string_lossy().contains("outcome")),
        "{letters:?}"
    );

    let mut leaks = Vec::new();
    let stored: Vec<std::path::PathBuf> = all_files(d.dir.path())
        .into_iter()
        .filter(|p| !p.starts_with(&msgs))
        .collect();
    assert!(stored
        .iter()
        .any(|p| p.to_string_lossy().ends_with("closeloop.db")));
    for p in planted.iter().chain([&again]) {
        for file in &stored {
            let bytes = std::fs::read(file).unwrap();
            if contains(&bytes, &p.secret) {
                leaks.push(format!("{} in {}", p.kind, file.display()));
            }
            if contains(&bytes, &proofpoint_v2(&p.secret)) {
                leaks.push(format!(
                    "{} as Proofpoint escapes it in {}",
                    p.kind,
                    file.display()
                ));
            }
        }
        for (i, out) in outputs.iter().enumerate() {
            if contains(&out.stdout, &p.secret) || contains(&out.stderr, &p.secret) {
                leaks.push(format!("{} in the output of command #{i}", p.kind));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "plaintext secrets leaked:\n{}",
        leaks.join("\n")
    );
}

/// A secret as Proofpoint URL Defense v2 writes it in a wrapped link: `/` as `_`, other
/// characters but letters, digits, `.` and `~` as `-` and two hex digits.
fn proofpoint_v2(secret: &str) -> String {
    secret
        .chars()
        .map(|c| match c {
            c if c.is_ascii_alphanumeric() || c == '.' || c == '~' => c.to_string(),
            '/' => "_".to_string(),
            c => format!("-{:02X}", c as u32),
        })
        .collect()
}
