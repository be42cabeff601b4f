//! Tests for Office documents attached to a report: Word, Excel, PowerPoint and
//! OpenDocument files give their text under their own name (fixtures made by the tools
//! people use: tests/fixtures/office/make.py); damaged, encrypted, huge and mislabelled
//! documents end with a problem, never a panic.

use super::archive::MAX_TOTAL;
use super::body::MAX_ATTACHMENT_BYTES;
use super::tests_archive::{forward_file as forward, zip_of};
use super::tests_bad::garble;
use super::*;

use crate::testkit::KEYS;

const DOCX: &[u8] = include_bytes!("../../tests/fixtures/office/runbook.docx");
const XLSX: &[u8] = include_bytes!("../../tests/fixtures/office/accounts.xlsx");
const PPTX: &[u8] = include_bytes!("../../tests/fixtures/office/review.pptx");
const ODT: &[u8] = include_bytes!("../../tests/fixtures/office/notes.odt");
const ODS: &[u8] = include_bytes!("../../tests/fixtures/office/keys.ods");

const WORD_TYPE: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// The one attachment's name and text (fails unless there is exactly one).
fn only(i: &Inbound) -> (&str, &str) {
    assert_eq!(
        i.attachments.len(),
        1,
        "{:?} {:?}",
        i.attachments,
        i.problems
    );
    (&i.attachments[0].name, &i.attachments[0].text)
}

fn problems_of(i: &Inbound) -> String {
    i.problems.join("\n")
}

#[test]
fn a_word_document_gives_its_body_tables_header_and_comments() {
    let i = forward(DOCX, "runbook.docx", WORD_TYPE);
    let (name, text) = only(&i);
    assert_eq!(name, "runbook.docx");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Rotating the deploy key");
    // One key in two runs (the second bold) is one key again.
    assert_eq!(lines[1], format!("Old key: {}", KEYS[0]));
    // A table's rows are lines of tab-separated cells.
    assert_eq!(lines[2], "service\tci-bot");
    assert_eq!(lines[3], format!("key\t{}", KEYS[1]));
    // Entities are decoded.
    assert_eq!(lines[4], "Tom & Jerry <ops> were told.");
    assert!(lines.contains(&"Internal runbook header"), "{text}");
    assert!(
        lines.contains(&format!("Also {}", KEYS[2]).as_str()),
        "{text}"
    );
    assert!(i.problems.is_empty(), "{:?}", i.problems);
}

#[test]
fn a_spreadsheet_gives_rows_of_cells_of_every_sheet_and_comments() {
    // Typed only octet-stream, as many mailers send it.
    let i = forward(XLSX, "accounts.xlsx", "application/octet-stream");
    let (name, text) = only(&i);
    assert_eq!(name, "accounts.xlsx");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "account\taccess key\tage (days)");
    assert_eq!(lines[1], format!("svc-backup\t{}\t412", KEYS[3]));
    // A formula is not text; its cell stays in place.
    assert_eq!(lines[2], "svc-backup-2\t\t7");
    assert!(!text.contains("B2"), "{text}");
    assert!(lines.contains(&"svc-reports"), "{text}");
    assert!(text.contains(&format!("rotated? {}", KEYS[4])), "{text}");
    // The comment's author is not text of the sheet.
    assert!(!text.contains("auditor"), "{text}");
}

#[test]
fn a_presentation_gives_slides_and_speaker_notes() {
    let i = forward(PPTX, "review.pptx", "application/octet-stream");
    let (name, text) = only(&i);
    assert_eq!(name, "review.pptx");
    let slide = text.find("Incident review").expect(text);
    assert!(text.contains("Leaked key was rotated"), "{text}");
    let notes = text
        .find(&format!("Do not share: {}", KEYS[0]))
        .expect(text);
    assert!(slide < notes, "{text}");
}

#[test]
fn open_document_text_and_spreadsheets_give_their_text() {
    let i = forward(ODT, "notes.odt", "application/vnd.oasis.opendocument.text");
    let (name, text) = only(&i);
    assert_eq!(name, "notes.odt");
    assert_eq!(
        text,
        format!("Key  in  notes: {}\nbot\t{}", KEYS[1], KEYS[2])
    );
    let i = forward(ODS, "keys.ods", "application/octet-stream");
    assert_eq!(only(&i).1, format!("svc-ods\t{}", KEYS[3]));
}

/// Excel's own way: strings kept once in sharedStrings.xml (rich text runs, phonetic
/// guides) and cells of type `s` holding their index; sheets read in number order.
#[test]
fn excel_shared_strings_are_looked_up() {
    let shared = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="4" uniqueCount="4">
<si><t>token</t></si>
<si><r><rPr><b/></rPr><t>{}</t></r><r><t>{}</t></r></si>
<si><t>東京</t><rPh sb="0" eb="2"><t>トウキョウ</t></rPh></si>
<si/>
</sst>"#,
        &KEYS[0][..10],
        &KEYS[0][10..]
    );
    let sheet = |rows: &str| {
        format!(
            r#"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>"#
        )
    };
    let first = sheet(
        r#"<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>
           <row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c><c r="C2" t="s"><v>99</v></c><c r="D2" t="str"><f>A1</f><v>token</v></c></row>"#,
    );
    let tenth = sheet(r#"<row r="1"><c r="A1" t="inlineStr"><is><t>tenth</t></is></c></row>"#);
    let second = sheet(r#"<row r="1"><c r="A1"><v>2</v></c></row>"#);
    let xlsx = zip_of(
        &[
            ("[Content_Types].xml", b"<Types/>"),
            ("xl/workbook.xml", b"<workbook/>"),
            ("xl/sharedStrings.xml", shared.as_bytes()),
            ("xl/worksheets/sheet10.xml", tenth.as_bytes()),
            ("xl/worksheets/sheet1.xml", first.as_bytes()),
            ("xl/worksheets/sheet2.xml", second.as_bytes()),
        ],
        false,
    );
    let i = forward(&xlsx, "Keys.XLSX", "application/octet-stream");
    assert_eq!(
        only(&i).1,
        format!("token\t{}\n東京\t\t\ttoken\n\n2\n\ntenth", KEYS[0])
    );
}

/// Word keeps a text box twice (the drawing and a fallback copy for old readers) and
/// field codes beside their results: each is read once. Deleted text of tracked changes
/// is still in the file, and so still read.
#[test]
fn word_fallback_copies_and_field_codes_are_not_read_deleted_text_is() {
    let document = format!(
        r#"<w:document xmlns:w="w" xmlns:mc="mc" xmlns:wps="wps"><w:body>
<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:txbx><w:txbxContent><w:p><w:r><w:t>boxed</w:t></w:r></w:p></w:txbxContent></wps:txbx></w:drawing></mc:Choice>
<mc:Fallback><w:pict><w:txbxContent><w:p><w:r><w:t>boxed</w:t></w:r></w:p></w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>
<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> HYPERLINK "https://x.example" </w:instrText></w:r><w:r><w:t>link</w:t></w:r></w:p>
<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr><w:del><w:r><w:delText>{}</w:delText></w:r></w:del><w:r><w:tab/><w:t>kept</w:t><w:br/><w:t>&#65;&#x42;</w:t></w:r></w:p>
</w:body></w:document>"#,
        KEYS[1]
    );
    let docx = zip_of(&[("word/document.xml", document.as_bytes())], false);
    let i = forward(&docx, "r.docx", "application/octet-stream");
    assert_eq!(only(&i).1, format!("boxed\n\nlink\n{}\tkept\nAB", KEYS[1]));
}

#[test]
fn open_document_spaces_tabs_and_line_breaks() {
    let content = r#"<office:document-content xmlns:office="o" xmlns:text="t" xmlns:dc="dc"><office:automatic-styles><style:style xmlns:style="s"/></office:automatic-styles>
<office:body><office:text><text:h>Title</text:h><text:p>a<text:s text:c="3"/>b<text:tab/>c<text:line-break/>d<text:s/>e</text:p>
<office:annotation><dc:creator>Ann</dc:creator><dc:date>2026-01-01</dc:date><text:p>note</text:p></office:annotation></office:text></office:body></office:document-content>"#;
    let odt = zip_of(
        &[
            ("mimetype", b"application/vnd.oasis.opendocument.text"),
            ("content.xml", content.as_bytes()),
        ],
        true,
    );
    let i = forward(&odt, "n.odt", "application/octet-stream");
    assert_eq!(only(&i).1, "Title\na   b\tc\nd e\nnote");
}

/// An Office document inside an archive is read too, named under the archive.
#[test]
fn a_document_inside_a_zip_is_read_under_the_zip() {
    let zip = zip_of(
        &[("docs/runbook.docx", DOCX), ("readme.txt", b"hello\n")],
        false,
    );
    let i = forward(&zip, "bundle.zip", "application/zip");
    let names: Vec<&str> = i.attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["bundle.zip / docs/runbook.docx", "bundle.zip / readme.txt"]
    );
    assert!(i.attachments[0].text.contains(KEYS[1]));
}

#[test]
fn documents_that_cannot_be_read_say_why() {
    // Encrypted Office files and Word 97 files are OLE compound files, not zips.
    let ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\0\0\0\0binary";
    for (name, mime) in [
        ("locked.docx", "application/octet-stream"),
        ("old.doc", "application/msword"),
        ("locked.bin", WORD_TYPE),
    ] {
        let i = forward(ole, name, mime);
        assert!(i.attachments.is_empty(), "{name}");
        assert!(
            problems_of(&i).contains(&format!(
                "document {name:?} is encrypted or in an older binary format"
            )),
            "{name}: {:?}",
            i.problems
        );
    }
    // A zip under an Office name that holds no document.
    let zip = zip_of(&[("notes.txt", b"hello")], false);
    let i = forward(&zip, "fake.xlsx", "application/octet-stream");
    assert!(i.attachments.is_empty());
    assert!(
        problems_of(&i).contains("not a Word, Excel, PowerPoint or OpenDocument file"),
        "{:?}",
        i.problems
    );
    // A damaged part keeps what came before the damage.
    let xml = format!(
        "<w:document><w:body><w:p><w:r><w:t>{}</w:t></w:r></w:p><w:p w:a=\"unterminated",
        KEYS[2]
    );
    let docx = zip_of(&[("word/document.xml", xml.as_bytes())], false);
    let i = forward(&docx, "broken.docx", WORD_TYPE);
    assert_eq!(only(&i).1, KEYS[2]);
    assert!(
        problems_of(&i).contains("\"word/document.xml\" damaged at byte"),
        "{:?}",
        i.problems
    );
}

/// A document whose XML unpacks past the budget (a bomb) stops there with a problem;
/// the text kept is cut at the attachment limit.
#[test]
fn huge_documents_stop_at_the_limits() {
    let run = "<w:p><w:r><w:t>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</w:t></w:r></w:p>";
    let mut xml = String::from("<w:document><w:body>");
    while xml.len() < (MAX_TOTAL as usize) + (1 << 20) {
        xml.push_str(run);
    }
    let docx = zip_of(
        &[
            ("word/document.xml", xml.as_bytes()),
            ("word/comments.xml", b"<w:comments/>"),
        ],
        false,
    );
    assert!(
        docx.len() < MAX_ATTACHMENT_BYTES,
        "the bomb is small: {}",
        docx.len()
    );
    let i = forward(&docx, "bomb.docx", WORD_TYPE);
    let (_, text) = only(&i);
    assert!(text.len() <= MAX_ATTACHMENT_BYTES, "{}", text.len());
    assert!(text.len() > MAX_ATTACHMENT_BYTES - 100, "{}", text.len());
    let problems = problems_of(&i);
    assert!(problems.contains("text cut at"), "{problems}");
    // Larger than the attachment limit: not opened.
    let mut big = DOCX.to_vec();
    big.resize(MAX_ATTACHMENT_BYTES + 1, 0);
    let i = forward(&big, "big.docx", WORD_TYPE);
    assert!(i.attachments.is_empty());
    assert!(
        problems_of(&i).contains("is larger than"),
        "{:?}",
        i.problems
    );
}

#[test]
fn unpacked_xml_beyond_the_budget_is_not_read() {
    // Parts of 4 MB without text, together past the unpacked budget: the fourth is cut,
    // the parts after it are named in a problem and not read (the key in the comments).
    let filler = "<x/>".repeat((MAX_TOTAL as usize) / 4 / 4 + 1);
    let comments = format!("<w:comments><w:p><w:t>{}</w:t></w:p></w:comments>", KEYS[3]);
    let docx = zip_of(
        &[
            ("word/document.xml", filler.as_bytes()),
            ("word/header1.xml", filler.as_bytes()),
            ("word/header2.xml", filler.as_bytes()),
            ("word/footer1.xml", filler.as_bytes()),
            ("word/footer2.xml", filler.as_bytes()),
            ("word/comments.xml", comments.as_bytes()),
        ],
        false,
    );
    let i = forward(&docx, "padded.docx", WORD_TYPE);
    assert!(i.attachments.is_empty(), "{:?}", i.attachments);
    let problems = problems_of(&i);
    assert!(
        problems.contains("bytes of XML; \"word/footer2.xml\" and the rest not read"),
        "{problems}"
    );
}

/// Damaged documents of every kind: no panic, and the message comes through.
#[test]
fn garbled_documents_never_panic() {
    let mut seed = 0x0ff1_ce00_u64;
    for round in 0..300 {
        for (name, original) in [
            ("a.docx", DOCX),
            ("a.xlsx", XLSX),
            ("a.pptx", PPTX),
            ("a.odt", ODT),
        ] {
            let mut bytes = original.to_vec();
            garble(&mut bytes, &mut seed, 1 + round % 40);
            let i = forward(&bytes, name, "application/octet-stream");
            assert_eq!(i.subject, "Fwd: Build failed", "{name} round {round}");
        }
    }
}

/// `doc` with `extra` parts added (name, bytes), stored.
fn with_parts(doc: &[u8], extra: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut source = zip::ZipArchive::new(std::io::Cursor::new(doc)).unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..source.len() {
        w.raw_copy_file(source.by_index(i).unwrap()).unwrap();
    }
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in extra {
        w.start_file(*name, stored).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// An Excel sheet inserted into a Word report is a document of its own inside it: its
/// keys are read under the report's name. An OLE object is named; a document embedded
/// in the embedded one is named, not opened.
#[test]
fn documents_embedded_in_a_document_are_read_under_its_name() {
    let sheet = with_parts(XLSX, &[("xl/embeddings/Inner.docx", DOCX)]);
    let report = with_parts(
        DOCX,
        &[
            ("word/embeddings/Microsoft_Excel_Worksheet.xlsx", &sheet),
            (
                "word/embeddings/oleObject1.bin",
                b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
            ),
        ],
    );
    let i = forward(&report, "runbook.docx", WORD_TYPE);
    let alone = forward(XLSX, "s.xlsx", "application/octet-stream");
    let names: Vec<&str> = i.attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "runbook.docx",
            "runbook.docx / Microsoft_Excel_Worksheet.xlsx"
        ],
        "{:?}",
        i.problems
    );
    assert_eq!(
        i.attachments[0].text,
        only(&forward(DOCX, "r.docx", WORD_TYPE)).1
    );
    assert_eq!(i.attachments[1].text, only(&alone).1);
    assert!(i.attachments[1]
        .text
        .contains("svc-backup\tAKIAZ6X8C3V1B9N2M7LS"));
    assert_eq!(
        i.problems,
        [
            "document \"runbook.docx\": embedded object \"word/embeddings/oleObject1.bin\" (OLE) \
             not read",
            "document \"runbook.docx / Microsoft_Excel_Worksheet.xlsx\": \
             \"xl/embeddings/Inner.docx\" is embedded in an embedded document; not opened",
        ]
    );
}

/// Word Online saves its main part as `word/document2.xml`: the package's relationships
/// say which part is the document, and it is read like any.
#[test]
fn the_main_part_is_found_by_the_packages_relationships() {
    use std::io::{Read, Write};
    let mut source = zip::ZipArchive::new(std::io::Cursor::new(DOCX)).unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for i in 0..source.len() {
        let mut file = source.by_index(i).unwrap();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        let name = file.name().unwrap().into_owned();
        let name = match name.as_str() {
            "word/document.xml" => "word/document2.xml".to_string(),
            "_rels/.rels" => {
                let rels = String::from_utf8(bytes).unwrap();
                assert!(rels.contains("word/document.xml"), "{rels}");
                bytes = rels
                    .replace("word/document.xml", "word/document2.xml")
                    .into();
                "_rels/.rels".to_string()
            }
            other => other.to_string(),
        };
        w.start_file(name, options).unwrap();
        w.write_all(&bytes).unwrap();
    }
    let online = w.finish().unwrap().into_inner();
    let i = forward(&online, "runbook.docx", WORD_TYPE);
    assert_eq!(only(&i), only(&forward(DOCX, "runbook.docx", WORD_TYPE)));
    assert!(i.problems.is_empty(), "{:?}", i.problems);
}
