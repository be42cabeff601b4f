//! Tests of the extract module: corpus recall/false-positive rates, masking, redaction,
//! fingerprints, offsets and robustness. Test-only; test data comes from `corpus.rs`
//! and must never contain literal secret-shaped strings.

use super::corpus::{self, negatives, Rng, ALNUM, UPNUM};
use super::corpus_pos::positives;
use super::*;
use std::collections::BTreeMap;
use std::time::Instant;

/// The values of the findings of `kind`, in order.
fn values<'a>(found: &'a [Finding], kind: &str) -> Vec<&'a str> {
    found
        .iter()
        .filter(|f| f.kind == kind)
        .map(|f| f.value.as_str())
        .collect()
}

/// The secrets found in `text`: kind, value, and the text where it is written.
fn secrets_in<'a>(text: &'a str, found: &'a [Finding]) -> Vec<(&'a str, &'a str, &'a str)> {
    found
        .iter()
        .filter(|f| f.class == ArtifactClass::Secret)
        .map(|f| (f.kind, f.value.as_str(), &text[f.start..f.end]))
        .collect()
}

fn check_invariants(text: &str, fs: &[Finding]) {
    let mut last_end = 0;
    for f in fs {
        assert!(f.start < f.end && f.end <= text.len(), "bad span {f:?}");
        assert!(
            text.is_char_boundary(f.start) && text.is_char_boundary(f.end),
            "not a char boundary {f:?}"
        );
        assert!(f.start >= last_end, "overlap/unsorted at {f:?}");
        assert_eq!(class_of(f.kind), Some(f.class), "kind/class mismatch {f:?}");
        last_end = f.end;
    }
}

/// Random tokens that hold a placeholder marker in mixed case by chance ("xXxX",
/// "hEre" after the prefix) are keys: found in a run of 600,000 random GitHub tokens,
/// where 21 were taken for placeholders and would have been stored in plaintext.
/// Placeholders written in one case still are not.
#[test]
fn a_marker_in_mixed_case_inside_a_random_token_is_no_placeholder() {
    let s = scanner();
    for tail in [
        "hEre41kuz4Ezn8AdPlprDSQgxAfZVh0KIZAG",
        "2XKXm0evV4iuztqpWRMR2M8mY5Axxxx6rBSr",
        "4miZBcZj0nWQaEhyPgdiXxXXhuxSPdi0s94j",
        "cZlcuX6J2NQXXXXmhagm4rY3EcSTSTUzleY4",
    ] {
        let text = format!("GITHUB_TOKEN=ghp_{tail}\n");
        let found = s.scan(&text);
        assert!(
            found.iter().any(|f| f.kind == "github-pat"),
            "ghp_{}…: {found:?}",
            &tail[..4]
        );
    }
    for placeholder in [
        "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "GITHUB_TOKEN=ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "api_key = \"YOUR_API_KEY_HERE\"",
        // random around the marker: only the marker, in either case, tells
        "password = \"K8s2Vq9-REPLACE_ME-Zt4Wp7\"",
        "password = \"K8s2Vq9-replace_me-Zt4Wp7\"",
        "GITHUB_TOKEN=ghp_Q7r4Z2m9X3LPW6KAk8s2Vq9ZtEXAMPLE4Wp7",
        "GITHUB_TOKEN=ghp_Q7r4Z2m9X3LPW6KAk8s2Vq9Ztexample4Wp7",
    ] {
        let found = s.scan(placeholder);
        assert!(
            !found.iter().any(|f| f.class == ArtifactClass::Secret),
            "{placeholder}: {found:?}"
        );
    }
}

#[test]
fn corpus_recall_and_false_positive_rate() {
    let sc = scanner();
    let pos = positives();
    let neg = negatives();
    let mut misses: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut per_kind: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut hit = 0;
    for p in &pos {
        let fs = sc.scan(&p.text);
        check_invariants(&p.text, &fs);
        let e = per_kind.entry(p.kind).or_default();
        e.0 += 1;
        if fs.iter().any(|f| f.kind == p.kind && f.value == p.value) {
            hit += 1;
            e.1 += 1;
        } else {
            let got: Vec<String> = fs
                .iter()
                .map(|f| format!("{}:{}", f.kind, f.masked))
                .collect();
            misses
                .entry(p.kind)
                .or_default()
                .push(format!("{:?} -> {got:?}", p.text));
        }
    }
    let mut fps = 0;
    let mut fp_list: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for n in &neg {
        let fs = sc.scan(&n.text);
        check_invariants(&n.text, &fs);
        let secret_kind = class_of(n.kind) == Some(ArtifactClass::Secret);
        let bad: Vec<&Finding> = fs
            .iter()
            .filter(|f| f.kind == n.kind || (secret_kind && f.class == ArtifactClass::Secret))
            .collect();
        if !bad.is_empty() {
            fps += 1;
            let got: Vec<String> = bad
                .iter()
                .map(|f| format!("{}:{}", f.kind, f.masked))
                .collect();
            fp_list
                .entry(n.kind)
                .or_default()
                .push(format!("{:?} -> {got:?}", n.text));
        }
    }
    let recall = hit as f64 / pos.len() as f64;
    let fp_rate = fps as f64 / neg.len() as f64;
    println!(
        "positives {} hit {hit} recall {:.3}; negatives {} fp {fps} rate {:.3}",
        pos.len(),
        recall,
        neg.len(),
        fp_rate
    );
    for (k, (n, h)) in &per_kind {
        assert!(*n >= 3, "kind {k} has only {n} true examples");
        println!("  {k:26} {h}/{n}");
    }
    for (k, _) in KINDS.iter().filter(|(k, _)| *k != "host") {
        assert!(per_kind.contains_key(k), "kind {k} has no true examples");
        assert!(
            neg.iter().filter(|n| n.kind == *k).count() >= 2 || *k == "host",
            "kind {k} lacks false examples"
        );
    }
    for (k, m) in &misses {
        println!("MISS {k}: {m:#?}");
    }
    for (k, m) in &fp_list {
        println!("FALSE POSITIVE {k}: {m:#?}");
    }
    assert!(
        recall >= 0.95,
        "recall {recall:.3} < 0.95; misses: {misses:#?}"
    );
    assert!(
        fp_rate <= 0.05,
        "false-positive rate {fp_rate:.3} > 0.05: {fp_list:#?}"
    );
}

#[test]
fn masks_never_reveal_the_middle() {
    for p in positives() {
        for f in scanner()
            .scan(&p.text)
            .iter()
            .filter(|f| f.class == ArtifactClass::Secret)
        {
            let (head, tail) = f.masked.split_once('…').expect("mask has an ellipsis");
            assert!(tail.chars().count() <= 4, "tail too long: {}", f.masked);
            assert!(
                head.is_empty()
                    || (f.kind == "private-key"
                        && (head == "PRIVATE KEY " || head.starts_with("-----BEGIN ")))
                    || MASK_PREFIXES
                        .iter()
                        .any(|(k, ps)| *k == f.kind && ps.contains(&head)),
                "unexpected mask prefix {head:?} for {}",
                f.kind
            );
            if f.value.chars().count() < 12 {
                assert!(
                    head.is_empty() && tail.chars().count() <= 2,
                    "short value mask {}",
                    f.masked
                );
            }
            let n = f.value.len();
            if n > 12 && !head.starts_with("-----BEGIN ") {
                let middle = &f.value[head.len()..n - 4];
                assert!(
                    !f.masked.contains(middle),
                    "mask leaks the middle of {}",
                    f.kind
                );
            }
        }
    }
    assert_eq!(
        mask(
            "github-pat",
            &format!("ghp_{}", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8")
        ),
        "ghp_…q7R8"
    );
    assert_eq!(mask("generic-secret", "hunter22"), "…22");
    assert_eq!(mask("generic-secret", "abcdefghijklmnop"), "…mnop");
    assert_eq!(mask("private-key", &"Ab12".repeat(20)), "PRIVATE KEY …Ab12");
    assert_eq!(
        mask("aws-arn", "arn:aws:iam::123456789012:role/x"),
        "arn:aws:iam::123456789012:role/x"
    );
    assert_eq!(mask("url", "https://u:pw@Host.io/p"), "https://u@host.io/p");
    assert!(
        mask("url", &format!("https://a.io/{}", "p".repeat(500)))
            .chars()
            .count()
            <= 201
    );
    assert_eq!(mask("generic-secret", ""), "…");
}

/// The head of a redacted text is the redacted text's start, at least as long as asked
/// (or all of it), and never shows a secret: not one cut short, not one after the cut.
#[test]
fn a_redacted_head_is_the_start_of_the_redacted_text_and_shows_no_secret() {
    let mut r = Rng::new(31);
    for round in 0..400 {
        let mut text = String::new();
        let mut tokens = Vec::new();
        for _ in 0..r.next() % 30 {
            match r.next() % 4 {
                0 => {
                    let t = format!("ghp_{}", r.s(36, ALNUM));
                    text.push_str(&format!("GITHUB_TOKEN={t}\n"));
                    tokens.push(t);
                }
                1 => text.push_str("caf\u{e9} na\u{ef}ve \u{2014} \u{1f511} "),
                _ => {
                    let n = (r.next() % 90) as usize;
                    text.push_str(&r.s(n, "abc def\n"));
                }
            }
        }
        let fs = scanner().scan(&text);
        let full = redact(&text, &fs);
        for limit in [
            0,
            1,
            2,
            17,
            full.len() / 3,
            full.len() / 2,
            full.len(),
            full.len() + 5,
        ]
        .into_iter()
        .chain([(r.next() % (full.len() as u64 + 1)) as usize])
        {
            let head = redact_head(&text, &fs, limit);
            assert!(full.starts_with(&head), "round {round}, limit {limit}");
            assert!(
                head.len() >= limit.min(full.len()),
                "round {round}, limit {limit}: {} bytes",
                head.len()
            );
            // past the limit at most one marker or one character
            assert!(head.len() <= limit + 64, "round {round}, limit {limit}");
            for t in &tokens {
                // not a token, nor the start of one cut at the limit
                assert!(!head.contains(t.as_str()), "round {round}, limit {limit}");
                assert!(!head.ends_with(&t[..10]), "round {round}, limit {limit}");
            }
        }
    }
}

#[test]
fn redaction_hides_values_and_is_idempotent() {
    for p in positives() {
        let fs = scanner().scan(&p.text);
        let red = redact(&p.text, &fs);
        for f in fs.iter().filter(|f| f.class == ArtifactClass::Secret) {
            assert!(
                !red.contains(&f.value) || f.value.len() < 6,
                "redacted text leaks {} in {red:?}",
                f.kind
            );
            assert!(
                !red.contains(&p.text[f.start..f.end]),
                "redacted text leaks the span of {}",
                f.kind
            );
        }
        if class_of(p.kind) == Some(ArtifactClass::Secret) {
            assert!(
                !red.contains(&p.value),
                "redacted text leaks {}: {red:?}",
                p.kind
            );
            assert!(
                red.contains(&format!("[REDACTED {} ", p.kind)),
                "no marker for {}: {red:?}",
                p.kind
            );
        }
        let again = scanner().scan(&red);
        let secrets: Vec<&Finding> = again
            .iter()
            .filter(|f| f.class == ArtifactClass::Secret)
            .collect();
        assert!(
            secrets.is_empty(),
            "rescan of redacted text found {secrets:?} in {red:?}"
        );
        // identities and context survive redaction
        for f in fs.iter().filter(|f| f.class == ArtifactClass::Identity) {
            assert!(red.contains(&p.text[f.start..f.end]));
        }
    }
    // bogus findings do not panic
    let text = "héllo";
    let bogus = Finding {
        kind: "jwt",
        class: ArtifactClass::Secret,
        start: 2,
        end: 99,
        masked: String::new(),
        value: String::new(),
    };
    assert_eq!(redact(text, &[bogus]), text);
}

#[test]
fn fingerprints_are_stable_and_keyed() {
    let v = format!("ghp_{}", Rng::new(3).s(36, ALNUM));
    let a = fingerprint(b"key-1", "github-pat", &v);
    assert_eq!(a, fingerprint(b"key-1", "github-pat", &v));
    assert_eq!(a.len(), 64);
    assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(a, fingerprint(b"key-2", "github-pat", &v));
    assert_ne!(a, fingerprint(b"key-1", "generic-secret", &v));
    // the same key quoted differently fingerprints the same
    let t1 = format!("token {v} end");
    let t2 = format!("{{\"t\":\"{v}\"}}");
    let f1 = &scanner().scan(&t1)[0];
    let f2 = &scanner().scan(&t2)[0];
    assert_eq!(f1.fingerprint(b"k"), f2.fingerprint(b"k"));
    // RFC 4231 test case 2 (plain HMAC with empty kind would differ, so check the construction)
    assert_eq!(
        fingerprint(b"Jefe", "what do ya want ", "for nothing?").len(),
        64
    );
}

#[test]
fn offsets_slice_the_value() {
    for p in positives() {
        for f in scanner().scan(&p.text) {
            let span = &p.text[f.start..f.end];
            match f.kind {
                "private-key" => assert!(span.starts_with("-----BEGIN") || span == f.value),
                "gcp-service-account" | "azure-app-id" | "host" => {
                    assert_eq!(span.to_ascii_lowercase(), f.value)
                }
                "url" => {}
                _ => assert_eq!(span, f.value, "{}", f.kind),
            }
        }
    }
}

#[test]
fn non_ascii_around_secrets() {
    let mut r = Rng::new(11);
    let t = format!("gh{}_{}", "p", r.s(36, ALNUM));
    let text = format!("Привет 🙂 ключ:{t}— ünïcödé 日本語 {}", "é".repeat(50));
    let fs = scanner().scan(&text);
    check_invariants(&text, &fs);
    assert_eq!(fs.len(), 1, "{fs:?}");
    assert_eq!(&text[fs[0].start..fs[0].end], t);
    let red = redact(&text, &fs);
    assert!(
        red.contains("Привет 🙂 ключ:[REDACTED github-pat ghp_…") && red.ends_with(&"é".repeat(50))
    );
}

#[test]
fn debug_hides_values() {
    let t = format!("GITHUB_TOKEN=gh{}_{}", "p", Rng::new(5).s(36, ALNUM));
    let f = &scanner().scan(&t)[0];
    let dbg = format!("{f:?}");
    assert!(!dbg.contains(&f.value) && dbg.contains("<hidden>"), "{dbg}");
}

#[test]
fn huge_inputs_do_not_panic() {
    let mut r = Rng::new(13);
    let line: String = (0..1_000_000 / 8).map(|_| r.s(7, ALNUM) + "é").collect();
    let t0 = Instant::now();
    let fs = scanner().scan(&line);
    check_invariants(&line, &fs);
    println!(
        "1MB random line: {} findings in {:?}",
        fs.len(),
        t0.elapsed()
    );

    let plain = "The quick brown fox jumps over the lazy dog. ".repeat(25_000);
    let t0 = Instant::now();
    assert!(scanner().scan(&plain).is_empty());
    println!("1MB prose: {:?}", t0.elapsed());

    // many keywords and near-misses on one line
    let noisy = format!(
        "password=x token: AKIA ghp_ sk- eyJ -----BEGIN PRIVATE KEY----- http://a Bearer é{}",
        "€"
    )
    .repeat(8_000);
    let t0 = Instant::now();
    let fs = scanner().scan(&noisy);
    check_invariants(&noisy, &fs);
    println!(
        "{}KB keyword soup: {} findings in {:?}",
        noisy.len() / 1024,
        fs.len(),
        t0.elapsed()
    );

    // pathological repetition: many headers, many findings, many redaction markers
    let mut r = Rng::new(29);
    let many_keys: String = (0..45_000)
        .map(|_| format!("AKIA{} ", r.s(16, corpus::UPNUM)))
        .collect();
    let many_pem = format!("-----BEGIN PRIVATE KEY-----{}\n", r.s(40, corpus::B64)).repeat(15_000);
    let many_red = "[REDACTED github-pat ghp_…ab12] token=".repeat(25_000);
    for (name, t) in [
        ("keys", &many_keys),
        ("pem", &many_pem),
        ("redacted", &many_red),
    ] {
        let t0 = Instant::now();
        let fs = scanner().scan(t);
        check_invariants(t, &fs);
        println!(
            "{name}: {}KB, {} findings in {:?}",
            t.len() / 1024,
            fs.len(),
            t0.elapsed()
        );
    }

    let xs = "x".repeat(1_000_000);
    assert!(scanner().scan(&xs).is_empty());
    let eq = format!("secret={}", "A1b2".repeat(250_000));
    check_invariants(&eq, &scanner().scan(&eq));
}

#[test]
fn random_fragments_keep_invariants() {
    let pieces = [
        "AKIA",
        "ghp_",
        "sk-",
        "sk-ant-",
        "eyJ",
        "xoxb-",
        "glpat-",
        "SG.",
        "AIza",
        "://",
        "@",
        ":",
        "=",
        "\"",
        "password",
        "token",
        "secret",
        "Bearer ",
        "Authorization: ",
        "-----BEGIN PRIVATE KEY-----",
        "-----END",
        "\n",
        " ",
        "é",
        "🙂",
        "日本",
        "arn:aws:iam::",
        "system:serviceaccount:",
        ".iam.gserviceaccount.com",
        "client_id=",
        "https://",
        "[REDACTED ",
        "]",
        "\\n",
        "AccountKey=",
        "sig=",
        // links wrapped by mail filters
        "https://urldefense.com/v3/__",
        "__;",
        "!!",
        "*",
        "**",
        "https://urldefense.proofpoint.com/v2/url?u=",
        "https://urldefense.proofpoint.com/v1/url?u=",
        "-3A__",
        "-5F",
        "https://eur01.safelinks.protection.outlook.com/?url=",
        "https://linkprotect.cudasvc.com/url?a=",
        "https://x.trendmicro.com:443/wis/clicktime/v1/query?url=",
        "https://www.google.com/url?q=",
        "%3D",
        "&",
    ];
    let mut r = Rng::new(17);
    for _ in 0..3000 {
        let mut s = String::new();
        for _ in 0..(r.next() % 30) {
            if r.next() & 1 == 0 {
                s.push_str(pieces[(r.next() % pieces.len() as u64) as usize]);
            } else {
                let n = (r.next() % 50) as usize;
                s.push_str(&r.s(n, corpus::B64));
            }
        }
        let fs = scanner().scan(&s);
        check_invariants(&s, &fs);
        let red = redact(&s, &fs);
        for f in fs
            .iter()
            .filter(|f| f.class == ArtifactClass::Secret && f.value.len() >= 12)
        {
            assert!(!red.contains(&f.value), "leak after redaction in {s:?}");
        }
    }
}

/// The rules' length limits hold though the regexes no longer count (a counted
/// repetition of a Unicode class compiled to megabytes): a URL is kept to 4,096
/// characters after its `https://`, a quoted assignment over 500 is no secret, a redaction marker's tail over
/// 400 hides nothing; a URL's user name has no limit. A quoted value that is no secret
/// is searched for assignments inside it.
#[test]
fn length_limits_are_checked_after_the_match() {
    let s = scanner();
    let mut r = Rng::new(41);
    for path in ["p".repeat(5_000), "\u{e9}".repeat(5_000)] {
        let t = format!("see https://a.io/{path} now");
        let fs = s.scan(&t);
        let url: Vec<&Finding> = fs.iter().filter(|f| f.kind == "url").collect();
        assert_eq!(url.len(), 1, "{t:.40}: {fs:?}");
        assert_eq!(t[url[0].start + 8..url[0].end].chars().count(), 4_096);
        assert_eq!(url[0].start, 4);
    }

    let key = r.s(24, ALNUM);
    for filler in [60, 600] {
        let prose = "ab cd ".repeat(filler / 6);
        let t = format!("note_token: \"{prose} api_key={key} {prose}\"\n");
        let fs = s.scan(&t);
        let found = secrets_in(&t, &fs);
        assert!(
            found.iter().any(|&(_, v, _)| v == key),
            "{filler}: {found:?}"
        );
    }
    for (n, secret) in [(500, true), (501, false)] {
        let v = r.s(n, ALNUM);
        for t in [format!("token = \"{v}\""), format!("token = '{v}'")] {
            let fs = s.scan(&t);
            assert_eq!(
                values(&fs, "generic-secret") == [v.as_str()],
                secret,
                "{n}: {fs:?}"
            );
        }
    }

    let pw = r.s(16, ALNUM);
    let t = format!("postgres://{}:{pw}@db.acme.io/x", "u".repeat(300));
    assert_eq!(values(&s.scan(&t), "url-password"), [pw.as_str()]);

    let gh = format!("ghp_{}", r.s(36, ALNUM));
    for (tail, hidden) in [(380, true), (420, false)] {
        let pad = "x".repeat(tail - gh.len() - 2);
        let t = format!("[REDACTED github-pat {pad} {gh} ]");
        let fs = s.scan(&t);
        let found = values(&fs, "github-pat");
        assert_eq!(found.is_empty(), hidden, "{tail}: {found:?}");
    }
}

/// A password in quotes on a command line is taken whole, spaces and all (it was cut at
/// its first space: `-p 'two words'` kept `words` in plaintext); bare and unclosed forms
/// are found as before.
#[test]
fn a_quoted_password_on_a_command_line_is_found_whole() {
    let s = scanner();
    let mut r = Rng::new(43);
    for form in [
        "sshpass -p 'PW' ssh ops@bastion",
        "mysql -u root -p\"PW\" orders",
        "mysqldump -uapp -p'PW' shop > shop.sql",
        "net user svc_sql \"PW\" /add",
        "net use Z: \\\\fs01\\finance 'PW' /user:CORP\\svc",
        "docker login -u ci -p \"PW\" registry.acme.example",
        "ldapsearch -x -D cn=admin -w 'PW' -b dc=corp",
        "redis-cli -h cache01 -a \"PW\" ping",
        "mongosh -u admin --password='PW'",
        "xfreerdp /u:admin /p:\"PW\" /v:10.0.0.7",
        "rdesktop -u administrator -p 'PW' 10.1.1.5",
        "sqlcmd -S db01 -U sa -P \"PW\" -Q \"select 1\"",
        "psexec \\\\web02 -u CORP\\svc -p 'PW' cmd.exe",
        "htpasswd -b /etc/nginx/.htpasswd admin 'PW'",
        "curl -u 'deploy:PW' https://ci.acme.example/api",
        "curl --user=\"deploy:PW\" https://ci.acme.example/api",
        "smbclient //fs01/finance -U 'CORP\\svc%PW'",
        "openssl pkcs12 -in svc.p12 -passin 'pass:PW' -nokeys",
        "openssl rsa -in svc.key -passout pass:\"PW\" -aes256",
        "keytool -list -keystore svc.jks -storepass \"PW\"",
        "machine api.acme.example login deploy password \"PW\"",
        "ldappasswd -x -D cn=admin -W -s 'PW' uid=svc,dc=corp",
        "RUN echo 'root:PW' | chpasswd",
        "echo -n \"PW\" | sudo passwd --stdin svc_backup",
        "echo 'PW' | helm registry login -u ci --password-stdin ghcr.io",
        "sqlplus scott/\"PW\"@orcl",
        "sqlplus -s 'app/\"PW\"@db01:1521/sales'",
        "sqlplus system/\\\"PW\\\"@prod",
    ] {
        let pw = format!("{} {} {}!", r.s(6, ALNUM), r.s(5, ALNUM), r.s(4, ALNUM));
        let text = form.replace("PW", &pw);
        let fs = s.scan(&text);
        assert_eq!(
            values(&fs, "generic-secret"),
            [pw.as_str()],
            "{text}: {fs:?}"
        );
        let red = redact(&text, &fs);
        for word in pw.split(' ') {
            assert!(!red.contains(word), "{red} shows {word}");
        }
    }
    // a command holding two passwords gives both
    for text in [
        "snmpwalk -v3 -u mon -l authPriv -a SHA -A Zq8vLm2Rt5 -x AES -X 'Wp3nKd8Ls1' 10.0.0.1",
        "ldappasswd -x -D cn=admin -W -a Zq8vLm2Rt5 -s Wp3nKd8Ls1 uid=svc,dc=corp",
    ] {
        let fs = s.scan(text);
        let mut got = values(&fs, "generic-secret");
        got.sort();
        assert_eq!(got, ["Wp3nKd8Ls1", "Zq8vLm2Rt5"], "{text}: {fs:?}");
    }
    // Oracle's quotes let a password hold `@`, which otherwise ends it
    let fs = s.scan("sqlplus scott/\"Tg7@kq w2Lm\"@orcl");
    assert_eq!(values(&fs, "generic-secret"), ["Tg7@kq w2Lm"], "{fs:?}");
    for text in [
        "sshpass -p \"your password here\" ssh ops@bastion",
        "mysql -u root -p'Your DB password' orders",
    ] {
        let fs = s.scan(text);
        assert!(values(&fs, "generic-secret").is_empty(), "{text}: {fs:?}");
    }
    for text in [
        "sshpass -p \"Zq8vLm2Rt5 ssh ops@bastion",
        "curl -u 'deploy:Zq8vLm2Rt5 https://ci.acme.example",
        "redis-cli -a 'Zq8vLm2Rt5 ping",
        "mysql -u root -pZq8vLm2Rt5 orders",
    ] {
        let fs = s.scan(text);
        assert_eq!(
            values(&fs, "generic-secret"),
            ["Zq8vLm2Rt5"],
            "{text}: {fs:?}"
        );
    }
}

#[test]
fn secret_inside_url_wins_and_url_is_trimmed() {
    let t = format!(
        "https://api.acme.io/v1/items?api_key=gh{}_{}&page=2",
        "p",
        Rng::new(19).s(36, ALNUM)
    );
    let fs = scanner().scan(&t);
    let kinds: Vec<&str> = fs.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, ["url", "github-pat"], "{fs:?}");
    assert_eq!(fs[0].value, "https://api.acme.io/v1/items");
    let t = format!("postgres://app:{}@db.acme.io/x", Rng::new(23).s(16, ALNUM));
    let kinds: Vec<&str> = scanner().scan(&t).iter().map(|f| f.kind).collect();
    assert_eq!(kinds, ["url-password", "host"]);
}

#[test]
fn bare_secret_access_key_is_found_only_near_a_key_id() {
    let mut r = Rng::new(17);
    let id = format!("AKIA{}", r.s(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"));
    let secret = format!("{}/{}+{}", r.s(13, ALNUM), r.s(13, ALNUM), r.s(12, ALNUM));
    assert_eq!(secret.len(), 40);
    let kinds = |text: &str| -> Vec<(&'static str, String)> {
        let fs = scanner().scan(text);
        check_invariants(text, &fs);
        fs.iter()
            .map(|f| (f.kind, text[f.start..f.end].to_string()))
            .collect()
    };
    // On the next line, between words, with base64 padding-like neighbours.
    let near = format!("ünï id {id}\nthe pair: {secret} (rotate both) x== y+/\n");
    let found = kinds(&near);
    assert!(
        found.contains(&("aws-secret-access-key", secret.clone())),
        "{found:?}"
    );
    // A 40-character run that is part of a longer one is not a key.
    let longer = format!("{id}\n{secret}Q\n");
    assert!(!kinds(&longer)
        .iter()
        .any(|(k, _)| *k == "aws-secret-access-key"));
    // Too far from any key id.
    let far = format!("{id}\n{}\n{secret}\n", "word ".repeat(200));
    assert!(!kinds(&far)
        .iter()
        .any(|(k, _)| *k == "aws-secret-access-key"));
}

/// A link wrapped in another link's query, as mail filters rewrite every link
/// (`?url=https%3A%2F%2F…%3Ftoken%3D…`): the keys escaped inside it are found where they
/// lie, with the plaintext value an unescaped copy gives, and redacted.
#[test]
fn keys_escaped_inside_a_wrapped_link_are_found() {
    let mut r = Rng::new(77);
    let ghp = format!("ghp_{}", r.s(36, ALNUM));
    let akid = format!("AKIA{}", r.s(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"));
    let hexkey = r.s(40, "0123456789abcdef");
    let text = format!(
        "Sign in <https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fci.example%2Frun%3Ftoken%3D{ghp}%26id%3D{akid}%26api_key%3D{hexkey}&data=05%7C02%7C&reserved=0> now"
    );
    let s = scanner();
    let found = s.scan(&text);
    check_invariants(&text, &found);
    for (kind, value) in [
        ("github-pat", &ghp),
        ("aws-access-key-id", &akid),
        ("generic-secret", &hexkey),
    ] {
        let f = found
            .iter()
            .find(|f| f.kind == kind)
            .unwrap_or_else(|| panic!("{kind} not found: {found:?}"));
        assert_eq!(&text[f.start..f.end], value.as_str(), "{kind} span");
        assert_eq!(&f.value, value, "{kind} value");
    }
    let redacted = redact(&text, &found);
    for value in [&ghp, &akid, &hexkey] {
        assert!(!redacted.contains(value.as_str()), "{redacted}");
    }
    assert!(redacted.starts_with("Sign in <https://eur01.safelinks.protection.outlook.com"));
    // The address kept is where the wrapped link goes, up to its first key.
    let urls = values(&found, "url");
    assert_eq!(urls, ["https://ci.example/run"], "{found:?}");
    // An escape that is not ASCII, or not an escape, is kept as written.
    assert!(Decoded::percent("https://x.example/?q=%C3%A9%zz%4").is_none());
    let d = Decoded::percent("a%3Dé%2Fb%%41").unwrap();
    assert_eq!(d.text, "a=é/b%A");
    let at: Vec<usize> = (0..=d.text.len()).map(|i| d.original(i)).collect();
    assert_eq!(at, [0, 1, 4, 5, 6, 9, 10, 11, 14]);
}

/// A JSON dump escapes its slashes (`https:\/\/hooks.slack.com\/services\/…`): the
/// webhook is found where it lies, with the value its unescaped form gives.
#[test]
fn keys_in_json_with_escaped_slashes_are_found() {
    let mut r = Rng::new(79);
    let path = format!("T{}/B{}/{}", r.s(8, UPNUM), r.s(10, UPNUM), r.s(24, ALNUM));
    let plain = format!("https://hooks.slack.com/services/{path}");
    let escaped = plain.replace('/', "\\/");
    let pw = r.s(20, ALNUM);
    let text = format!(
        "{{\"hook\":\"{escaped}\",\"db\":\"postgres:\\/\\/app:{pw}@db1\\/prod\",\"n\":\"a\\\\/b\"}}"
    );
    let found = scanner().scan(&text);
    check_invariants(&text, &found);
    let hook = found
        .iter()
        .find(|f| f.kind == "slack-webhook")
        .unwrap_or_else(|| panic!("no webhook: {found:?}"));
    assert_eq!(&text[hook.start..hook.end], escaped);
    assert_eq!(hook.value, plain);
    let pass = found.iter().find(|f| f.kind == "url-password").unwrap();
    assert_eq!(&text[pass.start..pass.end], pw);
    let redacted = redact(&text, &found);
    assert!(
        !redacted.contains(&path[..10]) && !redacted.contains(&pw),
        "{redacted}"
    );
}

/// Every secret parameter of a query is found: the match of the first one used to run
/// over the rest (`token=…&api_key=…`), which were left in plaintext.
#[test]
fn every_secret_parameter_of_a_query_is_found() {
    let mut r = Rng::new(78);
    let ghp = format!("ghp_{}", r.s(36, ALNUM));
    let hexkey = r.s(40, "0123456789abcdef");
    let pw = format!("{}-{}", r.s(12, ALNUM), r.s(10, ALNUM));
    let text = format!(
        "see https://ci.example/run?token={ghp}&api_key={hexkey}&page=2&password={pw}&x=1 and"
    );
    let found = scanner().scan(&text);
    check_invariants(&text, &found);
    let secrets: Vec<&str> = found
        .iter()
        .filter(|f| f.class == ArtifactClass::Secret)
        .map(|f| &text[f.start..f.end])
        .collect();
    assert_eq!(
        secrets,
        [ghp.as_str(), hexkey.as_str(), pw.as_str()],
        "{found:?}"
    );
}

/// A phishing link wrapped by Safe Links is kept as where it really goes; the wrapper,
/// with the recipient's address in its `data`, is not. Other links with a `url`
/// parameter are kept whole.
#[test]
fn a_link_wrapped_by_safe_links_is_kept_as_the_link_it_wraps() {
    let wrapped = "https%3A%2F%2Flogin.examp1e.com%2Freset%3Fu%3Dops";
    let text = format!(
        "Sign in <https://NAM12.safelinks.protection.outlook.com/?url={wrapped}&data=05%7C02%7Calice%40corp.example%7C0&reserved=0> \
         or https://tracker.example/r?url={wrapped}&id=7 now"
    );
    let found = scanner().scan(&text);
    check_invariants(&text, &found);
    let urls: Vec<(&str, &str)> = found
        .iter()
        .filter(|f| f.kind == "url")
        .map(|f| (&text[f.start..f.end], f.value.as_str()))
        .collect();
    let tracker = format!("https://tracker.example/r?url={wrapped}&id=7");
    assert_eq!(
        urls,
        [
            (wrapped, "https://login.examp1e.com/reset?u=ops"),
            (tracker.as_str(), tracker.as_str())
        ],
        "{found:?}"
    );
}

/// Proofpoint URL Defense wraps every link of a message. v2 writes the link escaped
/// (`https-3A__ci.example_run-3Ftoken-3Dghp-5F…`), v3 as it is but followed by the
/// wrapper's `__;…!!…$`, v1 percent-escaped: a key in the wrapped link is found in each
/// (before, v2 and v3 kept it in plaintext, also in the link kept as the URL), and the
/// link kept is the wrapped one, where it really goes.
#[test]
fn links_wrapped_by_proofpoint_are_read_as_the_links_they_wrap() {
    let mut r = Rng::new(83);
    let key = format!("{}{}", "ghp_", r.s(36, ALNUM));
    let pw = r.s(20, ALNUM);
    let v2_key = format!(
        "https://urldefense.proofpoint.com/v2/url?u=https-3A__ci.example_run-3Ftoken-3D{}&d=DwMFaQ&c=euGZ&r=x&m=y&s=z&e=",
        key.replace('_', "-5F")
    );
    let v2 = "https://urldefense.proofpoint.com/v2/url?u=https-3A__login.examp1e.com_reset-3Fu-3Dops-5Fteam&d=DwMFaQ&c=euGZ";
    let v3_key =
        format!("https://urldefense.com/v3/__https://ci.example/run?t={key}__;!!NpxR!Ab3$");
    let v3_pw =
        format!("https://urldefense.com/v3/__https://ci.example/login?password={pw}__;!!NpxR!Ab3$");
    let v3 = "https://urldefense.com/v3/__https://intranet.example/search?q=a*test**Bend__;KysrKw!!NpxR!Ab3$";
    let v1 = "https://urldefense.proofpoint.com/v1/url?u=https%3A%2F%2Fwiki.example%2Fpage%3Fid%3D7&k=abc";
    let text = format!("1 {v2_key}\n2 {v2}\n3 {v3_key}\n4 <{v3_pw}>\n5 {v3}\n6 {v1}\n");
    let found = scanner().scan(&text);
    check_invariants(&text, &found);
    let secrets = secrets_in(&text, &found);
    let written = key.replace('_', "-5F");
    assert_eq!(
        secrets,
        [
            ("github-pat", key.as_str(), written.as_str()),
            ("github-pat", key.as_str(), key.as_str()),
            ("generic-secret", pw.as_str(), pw.as_str()),
        ],
        "{found:?}"
    );
    let urls = values(&found, "url");
    assert_eq!(
        urls,
        [
            // 1: the link with the key in it is cut before the key, as written: gone
            "https://login.examp1e.com/reset?u=ops_team",
            "https://ci.example/run",
            "https://ci.example/login",
            // `*` is one character put back, `**B` a run of three
            "https://intranet.example/search?q=a+test+++end",
            "https://wiki.example/page?id=7",
        ],
        "{found:?}"
    );
    let redacted = redact(&text, &found);
    assert!(
        !redacted.contains(&key[4..]) && !redacted.contains(&pw),
        "{redacted}"
    );
    // A key with characters v3 replaced (`%` and `#` are) is found whole, redacted
    // where it is written, and the link kept is cut before it.
    let split = format!(
        "https://urldefense.com/v3/__https://ci.example/run?x=gh*_{}__;cA!!NpxR!Ab3$",
        &key[4..]
    );
    let sig = r.s(40, ALNUM);
    let sas = format!(
        "https://urldefense.com/v3/__https://acct.blob.core.windows.net/c/f.zip?sv=2022-11-02&sig={}*2B{}*3D__;JSU!!NpxR!Ab3$",
        &sig[..20],
        &sig[20..]
    );
    let text = format!("{split}\n{sas}\n");
    let found = scanner().scan(&text);
    check_invariants(&text, &found);
    let secrets = secrets_in(&text, &found);
    let sig_written = format!("{}*2B{}*3D", &sig[..20], &sig[20..]);
    let sig_value = format!("{}%2B{}%3D", &sig[..20], &sig[20..]);
    assert_eq!(
        secrets,
        [
            (
                "github-pat",
                key.as_str(),
                format!("gh*_{}", &key[4..]).as_str()
            ),
            (
                "azure-storage-key",
                sig_value.as_str(),
                sig_written.as_str()
            ),
        ],
        "{found:?}"
    );
    assert_eq!(
        values(&found, "url"),
        [
            "https://ci.example/run",
            "https://acct.blob.core.windows.net/c/f.zip"
        ],
        "{found:?}"
    );
    let redacted = redact(&text, &found);
    assert!(
        !redacted.contains(&key[4..])
            && !redacted.contains(&sig[..20])
            && !redacted.contains(&sig[20..]),
        "{redacted}"
    );
    // v2's escapes map back to where they are written; `_` is `/`, `-5F` is `_`.
    let d = Decoded::proofpoint_v2("a-3Db_c-5Fd");
    assert_eq!(d.text, "a=b/c_d");
    let at: Vec<usize> = (0..=d.text.len()).map(|i| d.original(i)).collect();
    assert_eq!(at, [0, 1, 4, 5, 6, 7, 10, 11]);
}

/// The README's list of kinds (`closeloop scan`'s `kind` field) names every kind there is.
#[test]
fn the_readme_names_every_kind() {
    let readme = include_str!("../../README.md");
    let missing: Vec<&str> = KINDS
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| !readme.contains(&format!("`{k}`")))
        .collect();
    assert!(missing.is_empty(), "README.md does not name {missing:?}");
}

/// Barracuda, Trend Micro and Google's redirect wrap a link percent-escaped in a query
/// parameter, like Safe Links: the link kept is the one they wrap, and a key in it is
/// found where it is written.
#[test]
fn links_wrapped_by_other_filters_are_kept_as_the_links_they_wrap() {
    let mut r = Rng::new(89);
    let key = format!("{}{}", "ghp_", r.s(36, ALNUM));
    let text = format!(
        "1 https://linkprotect.cudasvc.com/url?a=https%3a%2f%2flogin.examp1e.com%2freset&c=E,1,x&typo=1\n\
         2 https://imsva91-ctp.trendmicro.com:443/wis/clicktime/v1/query?url=https%3a%2f%2fdocs.examp1e.net%2fshare&umid=5&auth=x\n\
         3 https://www.google.com/url?q=https://wiki.example/page?id%3D7&sa=D&ust=1\n\
         4 https://www.google.com/url?q=https%3A%2F%2Fci.example%2Frun%3Ftoken%3D{key}&sa=D\n\
         5 https://www.google.com/search?q=closeloop\n"
    );
    let found = scanner().scan(&text);
    check_invariants(&text, &found);
    let urls = values(&found, "url");
    assert_eq!(
        urls,
        [
            "https://login.examp1e.com/reset",
            "https://docs.examp1e.net/share",
            "https://wiki.example/page?id=7",
            "https://ci.example/run",
            "https://www.google.com/search?q=closeloop",
        ],
        "{found:?}"
    );
    let keys = values(&found, "github-pat");
    assert_eq!(keys, [key.as_str()], "{found:?}");
}

/// Passwords and secrets as configs, code, SQL, scripts and people write them, each found
/// whole (machine AE's probe of ~200 common forms found these in plaintext before); and
/// the look-alikes beside them (a reference, a prompt, prose, a default) are not.
#[test]
fn passwords_written_in_configs_code_sql_and_prose_are_found() {
    let s = scanner();
    let mut r = Rng::new(44);
    for form in [
        // SQL
        "CREATE USER 'app'@'%' IDENTIFIED BY 'PW';",
        "ALTER USER 'root'@'localhost' IDENTIFIED WITH mysql_native_password BY 'PW';",
        "ALTER USER scott IDENTIFIED BY PW;",
        "GRANT ALL ON shop.* TO 'app'@'%' IDENTIFIED BY 'PW';",
        "CREATE DATABASE LINK sales CONNECT TO app IDENTIFIED BY PW USING 'sales';",
        "CREATE USER app IDENTIFIED BY PW DEFAULT TABLESPACE users",
        "CREATE ROLE app WITH LOGIN ENCRYPTED PASSWORD 'PW';",
        "psql -c \"ALTER USER app WITH PASSWORD 'PW'\"",
        "SET PASSWORD FOR 'root'@'localhost' = PASSWORD('PW');",
        // a name and its value apart
        "env:\n  - name: DB_PASSWORD\n    value: \"PW\"\n",
        "        - name: API_TOKEN\n          value: PW\n",
        "\"environment\": [{\"name\": \"STRIPE_SECRET_KEY\", \"value\": \"PW\"}]",
        "{\n  \"Name\": \"db_password\",\n  \"Value\": \"PW\"\n}",
        "<env name=\"DB_PASSWORD\" value=\"PW\"/>",
        "<property name=\"connection.password\" value=\"PW\"/>",
        "--parameters ParameterKey=DBPassword,ParameterValue=PW",
        "ENV DB_PASSWORD PW",
        "setx SMTP_PASSWORD PW",
        "dotnet user-secrets set \"Db:Password\" \"PW\"",
        // code
        "define( 'DB_PASSWORD', 'PW' );",
        "System.setProperty(\"javax.net.ssl.keyStorePassword\", \"PW\");",
        "os.Setenv(\"API_TOKEN\", \"PW\")",
        "req.headers.add('X-Api-Key', 'PW')",
        "requests.get(url, auth=('admin', 'PW'))",
        "s.auth = HTTPBasicAuth(\"svc\", \"PW\")",
        "server.login('alerts@acme.example', 'PW')",
        "new NetworkCredential(\"svc_sql\", \"PW\", \"CORP\")",
        "$ok = ldap_bind($ds, \"cn=admin,dc=corp\", \"PW\");",
        "DriverManager.getConnection(url, \"app\", \"PW\")",
        "$db = mysqli_connect('db01', 'app', 'PW', 'shop');",
        // command lines
        "zip -r -P PW backup.zip dump.sql",
        "unzip -P 'PW' backup.zip",
        "7z a -pPW -mhe=on backup.7z data",
        "openssl enc -aes-256-cbc -salt -k PW -in a.tar -out a.enc",
        "ssh-keygen -t ed25519 -N 'PW' -f deploy_key",
        "gpg --batch --yes --passphrase PW -d secrets.gpg",
        "./sync --api-key PW --region eu",
        "twine upload -u __token__ -p PW dist/*",
        "dotnet nuget add source https://feed.acme.example -n acme -u ci -p PW",
        "java -jar jenkins-cli.jar -s https://ci.acme.example -auth deploy:PW build app",
        "mc alias set prod https://s3.acme.example AKIA0EXAMPLEKEY PW",
        "az keyvault secret set --vault-name kv-prod --name db --value 'PW'",
        "aws secretsmanager create-secret --name prod/db --secret-string PW",
        "aws ssm put-parameter --name /app/db --type SecureString --value PW",
        "gh secret set NPM_TOKEN --body \"PW\"",
        "echo PW | kinit svc_backup@CORP.EXAMPLE",
        "echo -n 'PW' | docker secret create db_password -",
        "echo -n PW | gcloud secrets create db-pass --data-file=-",
        "$p = ConvertTo-SecureString -AsPlainText -Force 'PW'",
        "expect \"password:\" { send \"PW\\r\" }",
        "expect \"*assword*\"\nsend \"PW\\r\"",
        // files that keep logins
        "db01.corp:5432:orders:app:PW",
        "# ~/.pgpass\n*:*:*:replicator:PW\n",
        "pgbouncer.internal:6432:*:report_ro:PW\r\n",
        // network devices, SNMP, RADIUS and TACACS+, IPsec, Wi-Fi, Redis, LDAP clients
        "enable secret 0 PW",
        "username admin privilege 15 password 0 PW",
        "line vty 0 4\n password 0 PW\n login",
        "username netops password PW",
        "enable password PW",
        "snmp-server community PW RO 10",
        "rocommunity PW 10.0.0.0/8",
        "snmp-server user mon grp v3 auth sha PW priv aes 128 PW",
        "tacacs-server host 10.1.1.5 key PW",
        "radius-server key PW",
        "set security ike policy p1 pre-shared-key ascii-text \"PW\"",
        "crypto isakmp key PW address 203.0.113.7",
        ": PSK \"PW\"",
        "network={\n    ssid=\"corp-iot\"\n    psk=\"PW\"\n}",
        "requirepass PW",
        "masterauth \"PW\"",
        "bindpw PW",
        "ldap_default_authtok = PW",
        // a Kubernetes secret's literal, whatever its key; mail sessions' transcripts
        "kubectl create secret generic db --from-literal=dsn=PW -n prod",
        "kubectl create secret generic db '--from-literal=key1=PW'",
        "a1 LOGIN svc-mail PW",
        "a1 login svc-mail PW",
        "C: A0002 login \"svc-mail@corp.example\" \"PW\"",
        "> . Login svc-mail PW",
        "* OK IMAP4rev1 ready\r\nA001 LOGIN \"svc-mail\" \"PW\"\r\nA001 OK",
        "+OK POP3 ready\nUSER svc-mail\n+OK\nPASS PW\n+OK logged in",
        "220 ftp ready\r\nUSER deploy\r\n331 Password required\r\nPASS PW\r\n230 OK",
        "ftp> user deploy PW\n331 Please specify the password.\n230 Login successful.",
        "ftp> quote PASS PW",
        // prose and chat
        "The password for svc-backup is now PW, please rotate it.",
        "The password to the vault is PW",
        "password of svc-backup was: PW",
        "I reset the svc-backup password to PW this morning.",
        "Its password has been changed to \"PW\".",
        "the passphrase on the signing key is PW",
        "the password is: PW",
        "pw: PW",
        "DBPASS=PW",
    ] {
        let pw = format!(
            "{}{}!{}",
            r.s(7, ALNUM),
            r.s(2, "0123456789"),
            r.s(6, ALNUM)
        );
        let text = form.replace("PW", &pw);
        let fs = s.scan(&text);
        check_invariants(&text, &fs);
        assert!(
            values(&fs, "generic-secret").contains(&pw.as_str()),
            "{text}: {fs:?}"
        );
        assert!(!redact(&text, &fs).contains(&pw), "{text}");
    }
    // strings anyone can turn back into the password, keys written in blocks, and
    // passwords in mail and Redis sessions' transcripts
    for (text, value) in [
        ("enable password 7 0822455D0A1606181C1B0D", "0822455D0A1606181C1B0D"),
        ("tacacs-server key 7 06050D24484B1D0A1C", "06050D24484B1D0A1C"),
        (
            "authentication-key \"$9$Hk5FCA0IhruOBIcvMLxbwgoJ\"; ## SECRET-DATA",
            "$9$Hk5FCA0IhruOBIcvMLxbwgoJ",
        ),
        (
            "APP_KEY=base64:Wq7n2Zr9LmKx4Tb8Vc1Yd5Hf3Jg6Ps0Qa2Ue9Ri7Oy4=",
            "Wq7n2Zr9LmKx4Tb8Vc1Yd5Hf3Jg6Ps0Qa2Ue9Ri7Oy4=",
        ),
        (
            "Public-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAIPyjdb2nxBkhrM6yEWqRXb0uX5Sg\nI2BWG0eiT9Yp6oPa\n\
             Private-Lines: 1\nAAAAIHgX8cUq3ZqNmB7rT2k9LwVfJd5sYpE1oRaC4hKuWn6t\nPrivate-MAC: 5b1e8c4f",
            "AAAAIHgX8cUq3ZqNmB7rT2k9LwVfJd5sYpE1oRaC4hKuWn6t",
        ),
        // SASL PLAIN's base64 of `\0svc-mail\0Zq8vLm2Rt5Kp`; SMTP's AUTH LOGIN answering
        // the server's prompts in base64, the second the password; Redis's AUTH
        (
            "~> AUTH PLAIN AHN2Yy1tYWlsAFpxOHZMbTJSdDVLcA==\n<~ 235 2.7.0 Authentication successful",
            "AHN2Yy1tYWlsAFpxOHZMbTJSdDVLcA==",
        ),
        (
            "~> AUTH LOGIN\n<~ 334 VXNlcm5hbWU6\n ~> c3ZjLW1haWw=\n<~ 334 UGFzc3dvcmQ6\n ~> WnE4dkxtMlJ0NUtw\n<~ 235 OK",
            "WnE4dkxtMlJ0NUtw",
        ),
        ("127.0.0.1:6379> AUTH default Zq8vLm2Rt5Kp\nOK", "Zq8vLm2Rt5Kp"),
        // IMAP's AUTHENTICATE PLAIN, the base64 on the line after the server's `+`
        (
            "a1 AUTHENTICATE PLAIN\r\n+ \r\nAHN2Yy1tYWlsAFpxOHZMbTJSdDVLcA==\r\na1 OK done",
            "AHN2Yy1tYWlsAFpxOHZMbTJSdDVLcA==",
        ),
        (
            "C: a1 AUTHENTICATE PLAIN\nS: +\nC: AHN2Yy1tYWlsAFpxOHZMbTJSdDVLcA==\n",
            "AHN2Yy1tYWlsAFpxOHZMbTJSdDVLcA==",
        ),
        // here-strings to secret stores and logins, a password typed twice into smbpasswd
        (
            "gcloud secrets versions add db-pass --data-file=- <<< \"Zq8vLm2Rt5Kp\"",
            "Zq8vLm2Rt5Kp",
        ),
        ("docker secret create db_pw - <<< Zq8vLm2Rt5Kp", "Zq8vLm2Rt5Kp"),
        (
            "podman login -u ci --password-stdin quay.io <<< 'Zq8vLm2Rt5Kp'",
            "Zq8vLm2Rt5Kp",
        ),
        ("sudo chpasswd <<< 'svc-backup:Zq8vLm2Rt5Kp'", "Zq8vLm2Rt5Kp"),
        // `pw` names, names of a vendor's key, unattended installs, `printf` pipes
        ("export VAULT_PW=Zq8vLm2Rt5Kp", "Zq8vLm2Rt5Kp"),
        ("  db_pw: \"Tr0ub4dor&3xQ\"", "Tr0ub4dor&3xQ"),
        (
            "DATADOG_KEY=9f8e7d6c5b4a39281706f5e4d3c2b1a0",
            "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        ),
        (
            "  PAGERDUTY_ROUTING_KEY: \"R0ut3Kq8vLm2Rt5KpWn6\"",
            "R0ut3Kq8vLm2Rt5KpWn6",
        ),
        (
            "heroku config:set SIGNING_KEY=Wq7n2Zr9LmKx4Tb8Vc1Yd5Hf -a shop",
            "Wq7n2Zr9LmKx4Tb8Vc1Yd5Hf",
        ),
        (
            "export AZURE_DEVOPS_EXT_PAT=k3q7zmx2vw5rtyp4hn6bjd2cfe7gsa5lu3oiwq6xzr4tny7mkp2e",
            "k3q7zmx2vw5rtyp4hn6bjd2cfe7gsa5lu3oiwq6xzr4tny7mkp2e",
        ),
        ("rootpw --plaintext Zq8vLm2Rt5Kp", "Zq8vLm2Rt5Kp"),
        ("rootpw Zq8vLm2Rt5Kp\n", "Zq8vLm2Rt5Kp"),
        (
            "d-i passwd/root-password-again password Zq8vLm2Rt5Kp",
            "Zq8vLm2Rt5Kp",
        ),
        (
            "printf '%s' \"Zq8vLm2Rt5Kp\" | podman login -u ci --password-stdin quay.io",
            "Zq8vLm2Rt5Kp",
        ),
        (
            "echo -n Zq8vLm2Rt5Kp | kubectl create secret generic db --from-file=password=/dev/stdin",
            "Zq8vLm2Rt5Kp",
        ),
    ] {
        let fs = s.scan(text);
        check_invariants(text, &fs);
        let found: Vec<&str> = fs
            .iter()
            .filter(|f| f.class == ArtifactClass::Secret)
            .map(|f| f.value.as_str())
            .collect();
        assert_eq!(found, [value], "{text}: {fs:?}");
    }
    let ovpn = "-----BEGIN OpenVPN Static key V1-----\ne685bdaf659a25a200e2b9e2e6a2c4b1\n\
                24ddc7e8a2d7b4e1c3f9a8d6e5b4c3a2\n-----END OpenVPN Static key V1-----\n";
    let fs = s.scan(ovpn);
    assert_eq!(values(&fs, "private-key").len(), 1, "{fs:?}");
    assert!(!redact(ovpn, &fs).contains("e685bdaf"), "{fs:?}");
    // both lines of a password typed twice
    let text = "echo -e \"Zq8vLm2Rt5\\nZq8vLm2Rt5\" | passwd svc";
    let fs = s.scan(text);
    assert_eq!(
        values(&fs, "generic-secret"),
        ["Zq8vLm2Rt5\\nZq8vLm2Rt5"],
        "{fs:?}"
    );
    // a quoted passphrase after any tool's password switch is taken whole; a placeholder
    // or a command's output in quotes is not one
    let text = "./deploy --password \"correct horse battery staple\" --env prod";
    let fs = s.scan(text);
    assert_eq!(
        values(&fs, "generic-secret"),
        ["correct horse battery staple"],
        "{fs:?}"
    );
    for text in [
        "./deploy --password \"your password here\"",
        "./deploy --password \"$(cat /run/secrets/pw)\"",
        "./deploy --token \"abc def\"",
    ] {
        let fs = s.scan(text);
        assert!(values(&fs, "generic-secret").is_empty(), "{text}: {fs:?}");
    }
    // a lone `<` or `>` is part of a key (WordPress's), a word in angle brackets is not
    let fs = s.scan("define('AUTH_KEY', 'Tg7|kq>2Lm<w9');");
    assert_eq!(values(&fs, "generic-secret"), ["Tg7|kq>2Lm<w9"], "{fs:?}");
    for text in [
        "define('DB_PASSWORD', '<db password>');",
        "CREATE USER app IDENTIFIED BY '<password>';",
        "-- IDENTIFIED BY clause sets the password",
        "Fixes for memory access issues identified by valgrind.",
        "problem identified by \"jamesh\"",
        "    pw: Optional[str]",
        "CREATE USER 'app'@'%' IDENTIFIED BY RANDOM PASSWORD;",
        "CREATE USER app IDENTIFIED BY :new_password;",
        "ALTER ROLE app WITH PASSWORD NULL;",
        "- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef: {name: db, key: password}",
        "- name: API_TOKEN_TTL\n  value: \"3600\"",
        "- name: DB_PASSWORD_FILE\n  value: /run/secrets/db_password",
        "{\"name\": \"db_password\", \"value\": \"${DB_PASSWORD}\"}",
        "System.setProperty(\"db.password\", System.getenv(\"DB_PASSWORD\"));",
        "headers.set(\"Authorization\", \"Bearer \" + token);",
        "neg(\"slack-token\", \"xoxb-2024-example-Tg7kq2Lm\")",
        "ENV API_TOKEN_FILE /run/secrets/token",
        "snmp-server community public RO",
        "rocommunity private",
        "enable secret 5 $1$mERr$hx5rVt7rPNoS4wqbXKX7m0",
        "enable password",
        "service password-encryption",
        "# requirepass foobared",
        "psk=$WIFI_PSK",
        "crypto isakmp key $PSK address 0.0.0.0",
        "Press the key 7 times to reset.",
        "kubectl create secret generic db --from-literal=username=app",
        "kubectl create secret generic db --from-file=key.json=./sa.json",
        "2 login attempts failed",
        "        login = os.getlogin()",
        " * <High-performance mode for login processes> [LoginProcess.txt].",
        "CREATE ROLE app WITH LOGIN PASSWORD NULL;",
        "1. login admin",
        "you can login as svc_deploy2",
        "Please reset your password to regain access.",
        "the password to use is in the vault",
        "password changed to meet the policy",
        "set the password to $NEW_PASSWORD",
        "the password of the admin account is expired",
        "password on file is required",
        "\"to change the current user's password to mariadb:\\n\\n``sql\\nALTER USER\"",
        "then login as svc_deploy2\r\n",
        "I login as svc_deploy2",
        "USER deploy\nPASS $FTP_PASSWORD",
        "ftp> user anonymous",
        "ftp> user deploy $FTP_PASSWORD",
        "ftp> quote PASS",
        "PASS tests/test_login.py",
        "~> AUTH PLAIN AHVzZXIAcGFzc3dvcmQ=",
        "AUTH PLAIN is offered after STARTTLS",
        "<~ 334 UGFzc3dvcmQ6\n ~> cGFzc3dvcmQ=",
        "127.0.0.1:6379> AUTH $REDIS_PASSWORD",
        "ports:\n  - \"5432:5432\"\n",
        "db01.corp:5432:orders:app:$PGPASSWORD",
        "        \"localhost:5432:bar:foo:baz\",",
        "2026-12-03 10:00:01 db01:5432: connection refused",
        "smtp.login(config.user, config.password)",
        "auth=('admin', os.environ['PW'])",
        "zip -r -P $ZIP_PW out.zip dir",
        "ssh-keygen -t rsa -b 4096 -N '' -f ~/.ssh/id_rsa",
        "openssl enc -d -aes-256-cbc -kfile key.txt -in a -out b",
        "gpg --batch --passphrase-file pass.txt -d secrets.gpg",
        "gh secret set NPM_TOKEN < token.txt",
        "expect \"Password:\"\nsend \"$env(SVC_PASSWORD)\\r\"",
        "expect \"login:\" { send \"admin\\r\" }",
        "echo -e \"$PW\\n$PW\" | passwd bob",
        "mc alias set local http://localhost:9000 minioadmin minioadmin",
        "The password is stored in Vault under secret/app.",
        "The password for the vault is rotated every 90 days.",
        "The password is expired; reset it in the portal.",
        "Your password was changed successfully.",
        "pw: see 1Password",
        "show_pw = True",
        "gcloud secrets create db-pass --data-file=- <<< \"$DB_PASSWORD\"",
        "(echo \"$PW\"; echo \"$PW\") | smbpasswd -s -a svc",
        "        pub pw_uid: crate::uid_t,",
        "    api_token: crate::auth::BearerToken,",
        "    let token: http::HeaderValue = value;",
        "pw = getpass.getpass()",
        "vault_pw = os.environ[\"VAULT_PW\"]",
        "rootpw --iscrypted $6$Q8yj2lkd$9sdf8sdf7sdfsdfLmKx4Tb8",
        "rootpw --lock",
        "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
        "KMS_KEY=1234abcd-12ab-34cd-56ef-1234567890ab",
        "KMS_KEY=arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "SIGNING_KEY_ARN=arn:aws:kms:us-east-1:123456789012:key/mrk-9f8e7d6c5b4a3928",
        "RECAPTCHA_SITE_KEY=6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI",
        "UPLOAD_KEY=uploads/2026/Q4/report-final.pdf",
        "IDEMPOTENCY_KEY=5f2b8c1a9d3e4f60a7b8",
        "SORT_KEY: created_at",
        "ADO_PAT: ${{ secrets.ADO_PAT }}",
        "LOG_FILE_PAT=*.log",
        "TRANSLATION_KEY=checkout.payment.card_declined",
        "a1 AUTHENTICATE PLAIN\r\n+ \r\na1 NO [AUTHENTICATIONFAILED] Authentication failed.",
    ] {
        let fs = s.scan(text);
        check_invariants(text, &fs);
        assert!(
            !fs.iter().any(|f| f.class == ArtifactClass::Secret),
            "{text}: {fs:?}"
        );
    }
}

/// A secret found by what is written around it is redacted wherever the text holds it
/// again, though nothing there says it is one; each place is a finding of its kind.
#[test]
fn a_secret_written_again_is_redacted_wherever_it_is() {
    let s = scanner();
    for (text, n) in [
        (
            "DB_PASSWORD=Zq8vLm2Rt5Kp\nthen psql asked, and I typed Zq8vLm2Rt5Kp again\n> Zq8vLm2Rt5Kp",
            3,
        ),
        // the second `echo` of a password typed twice into smbpasswd
        ("(echo Zq8vLm2Rt5Kp; echo Zq8vLm2Rt5Kp) | smbpasswd -s -a svc", 2),
        // inside a longer word it is still the secret
        ("token: Zq8vLm2Rt5Kp\nold=xZq8vLm2Rt5Kpx", 2),
    ] {
        let fs = s.scan(text);
        check_invariants(text, &fs);
        assert_eq!(
            values(&fs, "generic-secret"),
            vec!["Zq8vLm2Rt5Kp"; n],
            "{text}: {fs:?}"
        );
        assert!(!redact(text, &fs).contains("Zq8vLm2Rt5Kp"), "{text}");
    }
    // more secrets than are looked for one by one are looked for all at once
    let mut r = Rng::new(47);
    let pws: Vec<String> = (0..12).map(|_| format!("Q7-{}", r.s(12, ALNUM))).collect();
    let mut text: String = pws
        .iter()
        .enumerate()
        .map(|(i, pw)| format!("SVC{i}_PASSWORD={pw}\n"))
        .collect();
    text.push_str(&format!("retried with {} and {}\n", pws[0], pws[11]));
    let fs = s.scan(&text);
    check_invariants(&text, &fs);
    assert_eq!(values(&fs, "generic-secret").len(), 14, "{fs:?}");
    let red = redact(&text, &fs);
    assert!(pws.iter().all(|pw| !red.contains(pw.as_str())), "{red}");
}

/// A no-break space (U+00A0, as Outlook and web pages write a space, pasted into plain
/// text) reads as a space; the secret is redacted where it is written, the no-break
/// space kept.
#[test]
fn a_no_break_space_reads_as_a_space() {
    let s = scanner();
    for (text, value) in [
        ("password:\u{a0}Zq8vLm2Rt5Kp", "Zq8vLm2Rt5Kp"),
        ("the password is\u{a0}Wq7n2Zr9LmK", "Wq7n2Zr9LmK"),
        (
            "é\u{a0}\u{a0}AWS_SECRET_ACCESS_KEY\u{a0}=\u{a0}wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8vLm2Rt5",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8vLm2Rt5",
        ),
    ] {
        let fs = s.scan(text);
        check_invariants(text, &fs);
        let secrets: Vec<&Finding> = fs
            .iter()
            .filter(|f| f.class == ArtifactClass::Secret)
            .collect();
        assert_eq!(secrets.len(), 1, "{text}: {fs:?}");
        assert_eq!(&text[secrets[0].start..secrets[0].end], value, "{text}");
        let red = redact(text, &fs);
        assert!(!red.contains(value) && red.contains('\u{a0}'), "{red}");
    }
}
