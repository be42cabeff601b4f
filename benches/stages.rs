//! Micro-benchmarks of the pure stages on realistic inputs:
//! `cargo bench --bench stages`. They report; they never gate CI.

#[path = "common/ceiling.rs"]
mod ceiling;
#[path = "common/synth.rs"]
mod synth;

use closeloop::{extract, letters, parse};

fn main() {
    divan::main();
}

fn sample(size_roll_html: bool) -> Vec<u8> {
    // Find a generated message of the wanted shape (plain ~4 KB, or HTML + attachment).
    let mut r = synth::Rng::new(7);
    let (mut s, mut o) = (Vec::new(), Vec::new());
    for i in 0.. {
        let m = synth::message(&mut r, i, synth::Kind::New, &mut s, &mut o, true);
        let html = m.windows(9).any(|w| w == b"text/html");
        if html == size_roll_html && (html || m.len() < 6_000) {
            return m;
        }
    }
    unreachable!()
}

#[divan::bench]
fn parse_plain_4kb_forward(b: divan::Bencher) {
    let raw = sample(false);
    b.counter(divan::counter::BytesCount::new(raw.len()))
        .bench(|| parse::parse(divan::black_box(&raw)));
}

/// A 1.2 MB message of 20,000 multiparts, each inside the last, none closed: each
/// multipart's delimiters are looked for. Searching the whole message once a multipart,
/// as closeloop did, took 2.3 s for this on machine Q (43 ms now, with the same load
/// beside it; 25 ms on the quiet machine); a 25 MB one, ~15 minutes.
#[divan::bench]
fn parse_20000_nested_unclosed_multiparts(b: divan::Bencher) {
    let mut raw = String::from("From: a@example.org\r\nSubject: nested\r\nMIME-Version: 1.0\r\n");
    for level in 0..20_000 {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"level{level}\"\r\n\r\n--level{level}\r\n"
        ));
    }
    raw.push_str("Content-Type: text/plain\r\n\r\ndeep inside\r\n");
    let raw = raw.into_bytes();
    b.counter(divan::counter::BytesCount::new(raw.len()))
        .bench(|| parse::parse(divan::black_box(&raw)));
}

#[divan::bench]
fn parse_html_40kb_with_attachment(b: divan::Bencher) {
    let raw = sample(true);
    b.counter(divan::counter::BytesCount::new(raw.len()))
        .bench(|| parse::parse(divan::black_box(&raw)));
}

/// Hash, parse and scan of the loop bench's mailbox mix (6 in 10 ~4 KB plain,
/// 3 ~9 KB, 1 ~40 KB HTML with an attachment), per message: what an intake
/// spends on a message before any SQL.
#[divan::bench]
fn read_mixed_message(b: divan::Bencher) {
    let mailbox = synth::mailbox(1_000, 11, true);
    let scanner = extract::scanner();
    let mut i = 0;
    b.counter(divan::counter::ItemsCount::new(1usize))
        .bench_local(|| {
            let raw = &mailbox.messages[i % mailbox.messages.len()].1;
            i += 1;
            ceiling::hash_parse_scan(scanner, divan::black_box(raw))
        });
}

#[divan::bench(args = [false, true])]
fn scan_64kb(b: divan::Bencher, with_hits: bool) {
    let mut r = synth::Rng::new(3);
    let mut text = synth::filler(&mut r, 64 * 1024);
    if with_hits {
        for i in 0..8 {
            text.push_str(&format!(
                "\nkey{i} AKIA{}\n",
                r.s(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
            ));
        }
    }
    let scanner = extract::scanner();
    b.counter(divan::counter::BytesCount::new(text.len()))
        .bench(|| scanner.scan(divan::black_box(&text)));
}

#[divan::bench]
fn redact_and_fingerprint_report(b: divan::Bencher) {
    let parsed = parse::parse(&sample(false));
    let key = [7u8; 32];
    b.bench(|| {
        let f = extract::scanner().scan(&parsed.text);
        let fps: Vec<String> = f.iter().map(|x| x.fingerprint(&key)).collect();
        (extract::redact(&parsed.text, &f), fps)
    });
}

#[divan::bench]
fn render_outcome_letter(b: divan::Bencher) {
    let org = letters::Org::new("Example Security", "CL");
    let ctx = letters::samples::outcome(closeloop::domain::Outcome::Remediated);
    b.bench(|| letters::render_outcome(&org, "alice@example.org", divan::black_box(&ctx)).unwrap());
}

/// The two letters every new report gets: the reporter's acknowledgement and
/// the responders' notice, whose excerpt is the report's first 1,200 characters
/// (as `compose::after_report` takes it).
#[divan::bench]
fn render_report_letters(b: divan::Bencher) {
    let org = letters::Org::new("Example Security", "CL");
    let ack = letters::samples::ack();
    let mut notify = letters::samples::notify();
    let text = parse::parse(&sample(false)).text;
    notify.redacted_excerpt = text.chars().take(1200).collect();
    b.bench(|| {
        (
            letters::render_ack(&org, "alice@example.org", divan::black_box(&ack)).unwrap(),
            letters::render_notify(&org, "security@example.org", divan::black_box(&notify))
                .unwrap(),
        )
    });
}
