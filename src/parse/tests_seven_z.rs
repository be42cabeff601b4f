//! Tests for `.7z` attachments: files in solid and non-solid archives are read and named
//! under the archive; binaries and nested archives are not; encrypted files and
//! directories are named; bombs, oversized directories and damage stop with a problem,
//! never a panic.

use std::io::Cursor;

use sevenz_rust2::encoder_options::{AesEncoderOptions, Lzma2Options};
use sevenz_rust2::{
    ArchiveEntry, ArchiveWriter, EncoderConfiguration, EncoderMethod, Password, SourceReader,
};

use super::archive::{archive_texts, MAX_ENTRIES};
use super::tests_archive::{forward_file, named, the_total_ends_many_files, zip_of};
use super::tests_bad::garble;

const AWS: &str = crate::testkit::KEYS[0];
const OCTET: &str = "application/octet-stream";

/// How the files go into the archive.
#[derive(Clone, Copy, Debug)]
enum Packing {
    /// One block for all files (7-Zip's default).
    Solid,
    /// One block a file.
    EachAlone,
}

/// A 7z of `files` (name, bytes; a name ending in `/` is a directory), LZMA2 unless
/// `methods` says otherwise.
fn seven_z(
    files: &[(&str, &[u8])],
    packing: Packing,
    methods: Vec<EncoderConfiguration>,
) -> Vec<u8> {
    let mut w = ArchiveWriter::new(Cursor::new(Vec::new())).unwrap();
    w.set_content_methods(methods);
    let (dirs, data): (Vec<_>, Vec<_>) = files.iter().partition(|(n, _)| n.ends_with('/'));
    for (name, _) in dirs {
        w.push_archive_entry::<&[u8]>(
            ArchiveEntry::new_directory(name.trim_end_matches('/')),
            None,
        )
        .unwrap();
    }
    match packing {
        Packing::Solid => {
            let entries = data
                .iter()
                .map(|(n, _)| ArchiveEntry::new_file(n))
                .collect();
            let readers = data.iter().map(|(_, b)| SourceReader::new(*b)).collect();
            w.push_archive_entries(entries, readers).unwrap();
        }
        Packing::EachAlone => {
            for &(name, bytes) in &data {
                w.push_archive_entry(ArchiveEntry::new_file(name), Some(bytes))
                    .unwrap();
            }
        }
    }
    w.finish().unwrap().into_inner()
}

/// LZMA2 at its fastest (the bombs pack tens of MB).
fn lzma2() -> Vec<EncoderConfiguration> {
    let fast = Lzma2Options::from_level(1);
    vec![EncoderConfiguration::new(EncoderMethod::LZMA2).with_options(fast.into())]
}

/// Encrypted with a password closeloop does not have, then LZMA2.
fn aes() -> Vec<EncoderConfiguration> {
    let mut methods = vec![AesEncoderOptions::new(Password::from("hunter2")).into()];
    methods.extend(lzma2());
    methods
}

#[test]
fn text_files_in_a_7z_are_read_under_its_name() {
    let env = format!("AWS_ACCESS_KEY_ID={AWS}\n");
    let files: [(&str, &[u8]); 5] = [
        ("deploy/", b""),
        ("etc/app.conf", b"db_host = db1\n"),
        ("deploy/settings.env", env.as_bytes()),
        ("logo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
        ("old.zip", &zip_of(&[("x.env", b"X=1\n")], false)),
    ];
    let bzip2 = vec![EncoderMethod::BZIP2.into()];
    let deflate = vec![EncoderMethod::DEFLATE.into()];
    for (packing, methods) in [
        (Packing::Solid, lzma2()),
        (Packing::EachAlone, lzma2()),
        (Packing::Solid, bzip2),
        (Packing::EachAlone, deflate),
    ] {
        let what = format!("{packing:?} {:?}", methods[0].method);
        let bytes = seven_z(&files, packing, methods);
        for (name, mime) in [
            ("configs.7z", "application/octet-stream"),
            ("configs", "application/x-7z-compressed"),
            ("export.bin", "application/octet-stream"),
        ] {
            let i = forward_file(&bytes, name, mime);
            assert_eq!(
                named(&i),
                [
                    (format!("{name} / etc/app.conf").as_str(), "db_host = db1\n"),
                    (
                        format!("{name} / deploy/settings.env").as_str(),
                        env.as_str()
                    ),
                ],
                "{what}, {name}"
            );
            assert_eq!(
                i.problems,
                [format!(
                    "7z {name:?}: \"old.zip\" is an archive inside the archive; not opened"
                )],
                "{what}, {name}"
            );
        }
    }
    // Typed as something else, it is an attachment like any other (not text: nothing).
    let bytes = seven_z(&files, Packing::Solid, lzma2());
    let i = forward_file(&bytes, "scan.pdf", "application/pdf");
    assert!(i.attachments.is_empty(), "{:?}", named(&i));
}

#[test]
fn encrypted_7z_files_and_directories_are_named() {
    let env = format!("KEY={AWS}\n");
    // Files encrypted, the directory not (7-Zip without -mhe): each encrypted file is
    // named; a file in a block of its own without a password is read.
    let mut w = ArchiveWriter::new(Cursor::new(Vec::new())).unwrap();
    w.set_encrypt_header(false);
    w.set_content_methods(aes());
    w.push_archive_entry(ArchiveEntry::new_file("secret.env"), Some(env.as_bytes()))
        .unwrap();
    w.set_content_methods(lzma2());
    w.push_archive_entry(ArchiveEntry::new_file("open.txt"), Some(&b"visible"[..]))
        .unwrap();
    let bytes = w.finish().unwrap().into_inner();
    let i = forward_file(&bytes, "x.7z", OCTET);
    assert_eq!(named(&i), [("x.7z / open.txt", "visible")]);
    assert_eq!(
        i.problems,
        ["7z \"x.7z\": \"secret.env\" is encrypted; not read"]
    );
    // The directory encrypted too (-mhe): not even the names can be read.
    let bytes = seven_z(&[("secret.env", env.as_bytes())], Packing::Solid, aes());
    let i = forward_file(&bytes, "y.7z", OCTET);
    assert!(i.attachments.is_empty());
    assert_eq!(
        i.problems,
        ["7z \"y.7z\": its directory is encrypted; not opened"]
    );
}

#[test]
fn seven_z_bombs_stop_at_the_limits() {
    // 8 MB of zeros: one file, read up to the attachment limit.
    let zeros = vec![0u8; 8 << 20];
    let i = forward_file(
        &seven_z(&[("zeros.log", &zeros)], Packing::Solid, lzma2()),
        "zeros.7z",
        OCTET,
    );
    assert!(i.attachments.is_empty());
    assert_eq!(
        i.problems,
        ["7z \"zeros.7z\": attachment \"zeros.log\" too large to read as text"]
    );
    // Many 3 MB files: the archive's total ends it, solid or not.
    for packing in [Packing::Solid, Packing::EachAlone] {
        the_total_ends_many_files(|files| seven_z(files, packing, lzma2()), "many.7z", "7z");
    }
    // In a solid block a file is decoded whole to reach the next: a key behind 40 MB of
    // zeros is not unpacked (the zeros would be, in full, for nothing).
    let big = vec![0u8; 40 << 20];
    let env = format!("KEY={AWS}\n");
    let bytes = seven_z(
        &[("big.log", &big), ("after.env", env.as_bytes())],
        Packing::Solid,
        lzma2(),
    );
    let i = forward_file(&bytes, "deep.7z", OCTET);
    assert!(i.attachments.is_empty(), "{:?}", named(&i));
    assert_eq!(
        i.problems,
        [
            "7z \"deep.7z\": attachment \"big.log\" too large to read as text",
            "7z \"deep.7z\": more than 33554432 bytes to unpack up to \"big.log\"; the rest not read",
        ]
    );
}

#[test]
fn a_7z_with_more_files_than_looked_at_stops_at_the_limit() {
    // One past the entries looked at: the first ones are read, in order, the last not.
    let names: Vec<String> = (0..=MAX_ENTRIES).map(|n| format!("f{n}.txt")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x\n"[..])).collect();
    let i = forward_file(&seven_z(&files, Packing::Solid, lzma2()), "many.7z", OCTET);
    assert_eq!(i.attachments.len(), MAX_ENTRIES);
    assert_eq!(i.attachments[MAX_ENTRIES - 1].name, "many.7z / f999.txt");
    assert_eq!(
        i.problems,
        ["7z \"many.7z\": 1001 entries; only the first 1000 looked at"]
    );
    // A directory past 256 KiB unpacked (long names) is not opened at all.
    let names: Vec<String> = (0..3_000).map(|n| format!("{n:0>100}.txt")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x\n"[..])).collect();
    let i = forward_file(&seven_z(&files, Packing::Solid, lzma2()), "names.7z", OCTET);
    assert!(i.attachments.is_empty());
    assert_eq!(
        i.problems,
        [
            "7z \"names.7z\": its directory is larger than 256 KiB unpacked (more files than \
          the 1000 looked at); not opened"
        ]
    );
}

/// A block whose dictionary would take 128 MiB is refused before it is allocated.
#[test]
fn a_7z_block_asking_for_a_huge_dictionary_is_refused() {
    let mut options = Lzma2Options::from_level(1);
    options.set_dictionary_size(128 << 20);
    let methods =
        vec![EncoderConfiguration::new(EncoderMethod::LZMA2).with_options(options.into())];
    let bytes = seven_z(&[("app.env", b"KEY=value\n")], Packing::Solid, methods);
    let i = forward_file(&bytes, "dict.7z", OCTET);
    assert!(i.attachments.is_empty());
    assert_eq!(
        i.problems,
        [
            "7z \"dict.7z\": block 0 needs 129 MiB of memory to unpack (more than 66 MiB); \
          its unread files skipped"
        ]
    );
}

#[test]
fn damaged_7z_never_panics() {
    let env = format!("KEY={AWS}\n").repeat(40);
    let files: [(&str, &[u8]); 2] = [("a.env", env.as_bytes()), ("b.txt", b"text")];
    let solid = seven_z(&files, Packing::Solid, lzma2());
    let alone = seven_z(&files, Packing::EachAlone, lzma2());
    let mut seed = 0x7a7a_bcaf_271c_0004u64;
    for round in 0..500 {
        for good in [&solid, &alone] {
            let mut bytes = good.clone();
            garble(&mut bytes, &mut seed, round % 6 + 1);
            // Keep the signature so that the 7z path is taken.
            bytes[..6].copy_from_slice(b"7z\xbc\xaf\x27\x1c");
            let mut problems = Vec::new();
            let _ = archive_texts(&bytes, "d.7z", "", &mut problems);
            let cut = (seed as usize) % bytes.len();
            let _ = archive_texts(&bytes[..cut.max(6)], "d.7z", "", &mut problems);
        }
    }
    // The whole message still comes through.
    let mut bytes = solid.clone();
    garble(&mut bytes, &mut seed, 20);
    let i = forward_file(&bytes, "d.7z", OCTET);
    assert_eq!(i.text, "Logs from the build box attached.");
}

/// Archives made by 7-Zip itself (`tests/fixtures/7z/make.sh`): its packed directories
/// are measured and read, its files found; what cannot be read is said.
#[test]
fn archives_made_by_7_zip_are_read() {
    let env = format!("AWS_ACCESS_KEY_ID={AWS}\n");
    let i = forward_file(
        include_bytes!("../../tests/fixtures/7z/configs.7z"),
        "configs.7z",
        OCTET,
    );
    assert_eq!(
        named(&i),
        [
            ("configs.7z / deploy/settings.env", env.as_str()),
            ("configs.7z / etc/app.conf", "db_host = db1\n"),
        ]
    );
    assert!(i.problems.is_empty(), "{:?}", i.problems);

    let i = forward_file(
        include_bytes!("../../tests/fixtures/7z/many.7z"),
        "many.7z",
        OCTET,
    );
    assert_eq!(i.attachments.len(), 61, "{:?}", i.problems);
    assert!(
        named(&i).contains(&("many.7z / logs/build-60.log", "line 60 of the build log\n")),
        "{:?}",
        named(&i)
    );

    let i = forward_file(
        include_bytes!("../../tests/fixtures/7z/encrypted.7z"),
        "enc.7z",
        OCTET,
    );
    assert!(i.attachments.is_empty());
    assert_eq!(
        i.problems,
        [
            "7z \"enc.7z\": \"etc/app.conf\" is encrypted; not read",
            "7z \"enc.7z\": \"secret.env\" is encrypted; not read",
        ]
    );
    let names = include_bytes!("../../tests/fixtures/7z/encrypted-names.7z");
    let i = forward_file(names, "names.7z", OCTET);
    assert_eq!(
        i.problems,
        ["7z \"names.7z\": its directory is encrypted; not opened"]
    );

    let i = forward_file(
        include_bytes!("../../tests/fixtures/7z/ppmd.7z"),
        "ppmd.7z",
        OCTET,
    );
    assert_eq!(named(&i), [("ppmd.7z / etc/app.conf", "db_host = db1\n")]);
    let d64 = include_bytes!("../../tests/fixtures/7z/deflate64.7z");
    let i = forward_file(d64, "d64.7z", OCTET);
    assert!(i.attachments.is_empty());
    assert_eq!(
        i.problems,
        [
            "7z \"d64.7z\": block 0 is packed with DEFLATE64, which closeloop does not unpack; \
          its unread files skipped"
        ]
    );
}

/// The entry limit holds when the last file looked at is encrypted: a file after it, in a
/// block of its own, is not read.
#[test]
fn the_entry_limit_holds_past_an_encrypted_file() {
    let copy = || vec![EncoderConfiguration::new(EncoderMethod::COPY)];
    let mut w = ArchiveWriter::new(Cursor::new(Vec::new())).unwrap();
    w.set_encrypt_header(false);
    for n in 0..=MAX_ENTRIES {
        w.set_content_methods(if n == MAX_ENTRIES - 1 { aes() } else { copy() });
        let name = format!("f{n}.txt");
        w.push_archive_entry(ArchiveEntry::new_file(&name), Some(&b"x\n"[..]))
            .unwrap();
    }
    let bytes = w.finish().unwrap().into_inner();
    let i = forward_file(&bytes, "many.7z", OCTET);
    assert_eq!(i.attachments.len(), MAX_ENTRIES - 1, "{:?}", i.problems);
    assert_eq!(i.attachments[MAX_ENTRIES - 2].name, "many.7z / f998.txt");
    assert_eq!(
        i.problems,
        [
            "7z \"many.7z\": 1001 entries; only the first 1000 looked at",
            "7z \"many.7z\": \"f999.txt\" is encrypted; not read",
        ]
    );
}
