//! Tests for archive attachments (`.zip`, `.tar`, compressed tars, `.gz`, `.bz2`, `.xz`):
//! text files inside are
//! read and named under the archive; binaries, nested archives and encrypted files are not;
//! bombs and damage stop with a problem, never a panic.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::archive::MAX_TOTAL;
use super::tests::{eol, OUTER};
use super::tests_bad::garble;
use super::*;

const AWS: &str = crate::testkit::KEYS[0];

/// A zip of `files` (name, bytes), deflated unless `stored`.
pub(super) fn zip_of(files: &[(&str, &[u8])], stored: bool) -> Vec<u8> {
    let method = if stored {
        CompressionMethod::Stored
    } else {
        CompressionMethod::Deflated
    };
    let options = SimpleFileOptions::default().compression_method(method);
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in files {
        w.start_file(*name, options).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// `bytes` in base64, in lines of 76.
fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    lines.join("\n")
}

/// A forward carrying `zip` as `name` (application/octet-stream, base64).
fn forward_zip(zip: &[u8], name: &str) -> Inbound {
    forward_file(zip, name, "application/octet-stream")
}

/// A forward carrying `bytes` as the attachment `name` of type `mime` (base64).
pub(super) fn forward_file(bytes: &[u8], name: &str, mime: &str) -> Inbound {
    let raw = format!(
        "{OUTER}Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\n\
         Logs from the build box attached.\n--b\nContent-Type: {mime}; name=\"{name}\"\n\
         Content-Disposition: attachment; filename=\"{name}\"\nContent-Transfer-Encoding: base64\n\n{}\n--b--\n",
        b64(bytes)
    );
    parse(&eol(&raw, true))
}

pub(super) fn named(i: &Inbound) -> Vec<(&str, &str)> {
    i.attachments
        .iter()
        .map(|a| (a.name.as_str(), a.text.as_str()))
        .collect()
}

#[test]
fn text_files_in_a_zip_are_read_under_its_name() {
    let env = format!("AWS_ACCESS_KEY_ID={AWS}\n");
    let inner = zip_of(&[("deep.env", env.as_bytes())], false);
    let zip = zip_of(
        &[
            ("app/", b""),
            ("app/.env", env.as_bytes()),
            ("notes", b"plain notes without an extension\n"),
            ("logo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            ("inner.zip", &inner),
        ],
        false,
    );
    let i = forward_zip(&zip, "logs.zip");
    assert_eq!(
        named(&i),
        [
            ("logs.zip / app/.env", env.as_str()),
            ("logs.zip / notes", "plain notes without an extension\n"),
        ]
    );
    assert_eq!(
        i.problems,
        ["zip \"logs.zip\": \"inner.zip\" is an archive inside the archive; not opened"]
    );
    assert_eq!(i.text, "Logs from the build box attached.");
}

/// An Office file is a zip too, but keeps its own name and type: not opened as an archive
/// (its XML parts would fill the report). A zip under another name is opened when its
/// type says zip, or when it is typed only octet-stream.
#[test]
fn only_attachments_named_or_typed_zip_are_opened() {
    let env = format!("AWS_ACCESS_KEY_ID={AWS}\n");
    let zip = zip_of(&[("word/document.xml", env.as_bytes())], false);
    for office in ["report.docx", "Sheet.XLSX", "app.jar"] {
        let i = forward_zip(&zip, office);
        assert!(i.attachments.is_empty(), "{office}: {:?}", named(&i));
    }
    let i = forward_zip(&zip, "export.bin");
    assert_eq!(
        named(&i),
        [("export.bin / word/document.xml", env.as_str())]
    );
    let raw = String::from_utf8(eol(
        &format!(
            "{OUTER}Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nx\n\
             --b\nContent-Type: application/x-zip-compressed; name=\"bundle\"\n\
             Content-Transfer-Encoding: base64\n\n{}\n--b--\n",
            b64(&zip_of(&[("app.env", env.as_bytes())], false))
        ),
        true,
    ))
    .unwrap();
    let i = parse(raw.as_bytes());
    assert_eq!(named(&i), [("bundle / app.env", env.as_str())]);
}

#[test]
fn encrypted_files_are_named_and_skipped() {
    let mut zip = zip_of(&[("secret.txt", b"hidden"), ("open.txt", b"visible")], true);
    // Set "encrypted" (general purpose flag bit 0) on the first entry, in its local and its
    // central header: the reader must not try to read it as text.
    let local = 0;
    let central = zip.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    zip[local + 6] |= 1;
    zip[central + 8] |= 1;
    let i = forward_zip(&zip, "x.zip");
    assert_eq!(named(&i), [("x.zip / open.txt", "visible")]);
    assert_eq!(
        i.problems,
        ["zip \"x.zip\": \"secret.txt\" is encrypted; not read"]
    );
}

#[test]
fn a_zip_bomb_stops_at_the_limits() {
    // One file past the attachment limit (5 MB of one letter deflate to a few KB) ...
    let huge = vec![b'a'; 5 << 20];
    let i = forward_zip(&zip_of(&[("huge.log", &huge)], false), "bomb.zip");
    assert!(i.attachments.is_empty());
    assert_eq!(
        i.problems,
        ["zip \"bomb.zip\": attachment \"huge.log\" too large to read as text"]
    );
    // ... and many files each under it, past the archive's total.
    the_total_ends_many_files(|files| zip_of(files, false), "many.zip", "zip");
}

/// Eight 3 MB files in one archive (made by `make`): five read whole, the sixth cut where
/// the archive's total ran out, the rest not read, each said in a problem.
pub(super) fn the_total_ends_many_files(
    make: impl Fn(&[(&str, &[u8])]) -> Vec<u8>,
    name: &str,
    kind: &str,
) {
    let part = vec![b'b'; 3 << 20];
    let names: Vec<String> = (0..8).map(|n| format!("part{n}.log")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &part[..])).collect();
    let i = forward_zip(&make(&files), name);
    let total: usize = i.attachments.iter().map(|a| a.text.len()).sum();
    assert_eq!(total as u64, MAX_TOTAL);
    assert_eq!(i.attachments.len(), 6, "{:?}", i.problems);
    assert_eq!(
        i.problems,
        [
            format!("{kind} {name:?}: \"part5.log\" cut at the archive's unpacked limit"),
            format!(
                "{kind} {name:?}: more than 16777216 bytes unpacked; \"part6.log\" and the rest not read"
            ),
        ]
    );
}

#[test]
fn a_zip_larger_than_the_attachment_limit_is_not_opened() {
    // Random bytes do not compress: the archive itself is over 4 MB.
    let mut seed = 7u64;
    let mut noise = vec![0u8; 5 << 20];
    garble(&mut noise, &mut seed, 5 << 20);
    let zip = zip_of(&[("noise.bin", &noise)], true);
    let i = forward_zip(&zip, "big.zip");
    assert!(i.attachments.is_empty());
    assert!(
        i.problems.iter().any(|p| p.contains("not opened")),
        "{:?}",
        i.problems
    );
}

#[test]
fn damaged_zips_never_panic() {
    let env = format!("KEY={AWS}\n").repeat(40);
    let good = zip_of(
        &[
            ("a.env", env.as_bytes()),
            ("b.txt", b"text"),
            ("c.log", b"log"),
        ],
        false,
    );
    let mut seed = 0x1234_5678_9abc_def1u64;
    for round in 0..1_000 {
        let mut bytes = good.clone();
        garble(&mut bytes, &mut seed, round % 6 + 1);
        // Keep the signature so that the zip path is taken.
        bytes[..4].copy_from_slice(b"PK\x03\x04");
        let mut problems = Vec::new();
        let _ = super::archive::archive_texts(&bytes, "d.zip", "", &mut problems);
        let cut = (seed as usize) % bytes.len();
        let _ = super::archive::archive_texts(&bytes[..cut.max(4)], "d.zip", "", &mut problems);
    }
    // The whole message still comes through.
    let mut bytes = good.clone();
    garble(&mut bytes, &mut seed, 20);
    bytes[..4].copy_from_slice(b"PK\x03\x04");
    let i = forward_zip(&bytes, "d.zip");
    assert_eq!(i.text, "Logs from the build box attached.");
}

/// A tar of `files` (name, bytes), GNU headers (long names too).
fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, *bytes).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn bzip2(bytes: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn xz(bytes: &[u8]) -> Vec<u8> {
    let options = lzma_rust2::XzOptions::with_preset(1);
    let mut e = lzma_rust2::XzWriter::new(Vec::new(), options).unwrap();
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Each compression format: its name in problems, compressor, one file's suffix, a
/// tar's short suffix.
type Codec = (
    &'static str,
    fn(&[u8]) -> Vec<u8>,
    &'static str,
    &'static str,
);
const CODECS: [Codec; 3] = [
    ("gzip", gzip, ".gz", ".tgz"),
    ("bzip2", bzip2, ".bz2", ".tbz2"),
    ("xz", xz, ".xz", ".txz"),
];

#[test]
fn text_files_in_compressed_tars_a_tar_and_compressed_files_are_read_under_their_names() {
    let env = format!("AWS_ACCESS_KEY_ID={AWS}\n");
    let long = format!("deploy/{}/settings.env", "nested-directory".repeat(8));
    let tar = tar_of(&[
        ("etc/app.conf", b"db_host = db1\n"),
        (&long, env.as_bytes()),
        ("logo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
        ("old.tar.xz", &xz(b"inner")),
    ]);
    let want_files = [
        ("etc/app.conf", "db_host = db1\n"),
        (long.as_str(), env.as_str()),
    ];
    let mut archives = vec![("configs.tar".to_string(), "tar", tar.clone())];
    for (kind, compress, suffix, short) in CODECS {
        archives.push((format!("configs.tar{suffix}"), kind, compress(&tar)));
        archives.push((format!("configs{short}"), kind, compress(&tar)));
    }
    for (name, kind, bytes) in archives {
        let i = forward_zip(&bytes, &name);
        let want: Vec<(String, &str)> = want_files
            .iter()
            .map(|(f, t)| (format!("{name} / {f}"), *t))
            .collect();
        let got: Vec<(String, &str)> = named(&i)
            .into_iter()
            .map(|(n, t)| (n.to_string(), t))
            .collect();
        assert_eq!(got, want, "{name}");
        assert_eq!(
            i.problems,
            [format!(
                "{kind} {name:?}: \"old.tar.xz\" is an archive inside the archive; not opened"
            )],
            "{name}"
        );
    }
    for (_, compress, suffix, _) in CODECS {
        let name = format!("app.log{suffix}");
        let i = forward_zip(&compress(env.as_bytes()), &name);
        assert_eq!(
            named(&i),
            [(format!("{name} / app.log").as_str(), env.as_str())]
        );
        // The name's case is kept, whatever the letters (İ is longer in lower case).
        let name = format!("İNFO.LOG{}", suffix.to_uppercase());
        let i = forward_zip(&compress(env.as_bytes()), &name);
        assert_eq!(
            named(&i),
            [(format!("{name} / İNFO.LOG").as_str(), env.as_str())]
        );
        // A PNG that happens to be named so is no archive.
        let i = forward_zip(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", &format!("image{suffix}"));
        assert!(
            i.attachments.is_empty() && i.problems.is_empty(),
            "{:?}",
            i.problems
        );
    }
    // Zip entries compressed with bzip2 or xz instead of deflate.
    for method in [CompressionMethod::Bzip2, CompressionMethod::Xz] {
        let options = SimpleFileOptions::default().compression_method(method);
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        w.start_file("app/.env", options).unwrap();
        w.write_all(env.as_bytes()).unwrap();
        let zip = w.finish().unwrap().into_inner();
        let i = forward_zip(&zip, "logs.zip");
        assert_eq!(
            named(&i),
            [("logs.zip / app/.env", env.as_str())],
            "{method:?}"
        );
    }
}

#[test]
fn compression_bombs_stop_at_the_limits() {
    for (kind, compress, suffix, _) in CODECS {
        // 8 MB of zeros unpack from a few KB: one file, read up to the attachment limit.
        let name = format!("zeros.log{suffix}");
        let i = forward_zip(&compress(&vec![0u8; 8 << 20]), &name);
        assert!(i.attachments.is_empty());
        assert_eq!(
            i.problems,
            [format!(
                "{kind} {name:?}: attachment \"zeros.log\" too large to read as text"
            )]
        );
        // A tar of many 3 MB files: the archive's total ends it.
        the_total_ends_many_files(
            |files| compress(&tar_of(files)),
            &format!("many.tar{suffix}"),
            kind,
        );
    }
}

/// An xz stream whose dictionary would take 128 MiB is refused before anything is
/// allocated (a small attachment must not cost the daemon its memory).
#[test]
fn an_xz_stream_asking_for_a_huge_dictionary_is_refused() {
    let mut bytes = xz(b"KEY=value\n");
    // The block header follows the 12-byte stream header: its size, flags, then the
    // LZMA2 filter (id 0x21, 1 byte of properties: the dictionary size), then CRC32.
    let size = (bytes[12] as usize + 1) * 4;
    let header = &mut bytes[12..12 + size];
    let at = header
        .windows(2)
        .position(|w| w == [0x21, 0x01])
        .expect("LZMA2 filter flags")
        + 2;
    header[at] = 30; // 2 << (30 / 2 + 11) = 128 MiB
    let mut crc = flate2::Crc::new();
    crc.update(&header[..size - 4]);
    header[size - 4..].copy_from_slice(&crc.sum().to_le_bytes());
    let i = forward_zip(&bytes, "app.env.xz");
    assert!(i.attachments.is_empty());
    assert_eq!(i.problems.len(), 1, "{:?}", i.problems);
    assert!(
        i.problems[0].starts_with("xz \"app.env.xz\": unreadable (")
            && i.problems[0].contains("memory")
            && i.problems[0].ends_with("); not opened"),
        "{:?}",
        i.problems
    );
}

#[test]
fn damaged_tars_and_compressed_tars_never_panic() {
    let env = format!("KEY={AWS}\n").repeat(40);
    let tar = tar_of(&[("a.env", env.as_bytes()), ("b.txt", b"text")]);
    let tgz = gzip(&tar);
    let (tbz, txz) = (bzip2(&tar), xz(&tar));
    let mut seed = 0x0fed_cba9_8765_4321u64;
    for round in 0..500 {
        for (good, name) in [
            (&tar, "d.tar"),
            (&tgz, "d.tar.gz"),
            (&tbz, "d.tar.bz2"),
            (&txz, "d.tar.xz"),
        ] {
            let mut bytes = good.clone();
            garble(&mut bytes, &mut seed, round % 6 + 1);
            let mut problems = Vec::new();
            let _ = super::archive::archive_texts(&bytes, name, "", &mut problems);
            let cut = (seed as usize) % bytes.len();
            let _ = super::archive::archive_texts(&bytes[..cut.max(2)], name, "", &mut problems);
        }
    }
    // The whole message still comes through.
    let mut bytes = tgz.clone();
    garble(&mut bytes, &mut seed, 20);
    let i = forward_zip(&bytes, "d.tar.gz");
    assert_eq!(i.text, "Logs from the build box attached.");
}

/// A PDF or a screenshot-sized image cannot be read for keys: each is named in a problem
/// (the responders' notice lists them) so that someone looks at it; logos and icons are
/// not, and a text file that happens to start like an image is read as text.
#[test]
fn pdfs_and_screenshots_are_named_for_a_person_to_look_at() {
    let mut seed = 3u64;
    let mut noise = vec![0u8; 20 << 10];
    garble(&mut noise, &mut seed, 20 << 10);
    // A page's packed content stream is binary, as in any real PDF.
    let mut pdf =
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n4 0 obj\n<< /Length 600 /Filter /FlateDecode >>\nstream\n"
            .to_vec();
    pdf.extend(&noise[..600]);
    pdf.extend(b"\nendstream\nendobj\n");
    let pdf = pdf.as_slice();
    let mut screenshot = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    screenshot.extend(&noise);
    let logo = &screenshot[..2_000];
    let pdf_note = "is a PDF, which closeloop does not read for keys: look at it yourself";
    let image_note = "is an image, which closeloop does not read for keys (a key shown in a \
                      screenshot is not found): look at it yourself";
    for (bytes, name, mime, want) in [
        (pdf, "scan.pdf", "application/pdf", Some(pdf_note)),
        (pdf, "scan", "application/octet-stream", Some(pdf_note)),
        (
            &screenshot[..],
            "Screenshot.PNG",
            "image/png",
            Some(image_note),
        ),
        (logo, "image001.png", "image/png", None),
    ] {
        let i = forward_file(bytes, name, mime);
        assert!(i.attachments.is_empty(), "{name}");
        let want: Vec<String> = want
            .map(|n| format!("attachment {:?} {n}", name.to_lowercase()))
            .into_iter()
            .collect();
        assert_eq!(i.problems, want, "{name}");
    }
    let bmw = format!("BMW fleet API key {AWS}\n");
    let i = forward_file(bmw.as_bytes(), "fleet.txt", "text/plain");
    assert_eq!(named(&i), [("fleet.txt", bmw.as_str())]);
    // Inside an archive too, named under it.
    let zip = zip_of(
        &[("docs/report.pdf", pdf), ("shot.png", &screenshot)],
        false,
    );
    let i = forward_zip(&zip, "docs.zip");
    assert!(i.attachments.is_empty());
    assert_eq!(
        i.problems,
        [
            format!("zip \"docs.zip\": \"docs/report.pdf\" {pdf_note}"),
            format!("zip \"docs.zip\": \"shot.png\" {image_note}"),
        ]
    );
}
