//! The text of Office documents attached to a report: Word, Excel and PowerPoint files
//! (Office Open XML: `.docx`, `.xlsx`, `.pptx` and their macro and template forms) and
//! OpenDocument files (`.odt`, `.ods`, `.odp` …). A key pasted into a runbook, a
//! spreadsheet of service accounts or a slide's speaker notes is as leaked as one in a
//! `.env` file, so such a document becomes one [`TextAttachment`] under its own name,
//! stored and scanned like a text file.
//!
//! Which attachments: a zip (by signature) named or typed as one of these formats. What
//! is read: Word's body, headers, footers, footnotes, endnotes and comments (deleted text
//! of tracked changes too: it is still in the file); Excel's cells (shared strings looked
//! up, rows as lines of tab-separated cells; formulas not) and cell comments;
//! PowerPoint's slides, speaker notes and comments; an OpenDocument file's paragraphs. Word's
//! fallback copies of text boxes and field codes are skipped, so text is not doubled.
//! Office documents embedded in one (an Excel sheet inserted into a Word report is kept
//! as `word/embeddings/….xlsx`) are read as documents of their own, named under it;
//! embedded OLE objects (`….bin`) and embeddings of an embedded document are named.
//!
//! A document is hostile input like any archive: one larger than the attachment size
//! limit is not opened, at most [`MAX_ENTRIES`] parts are listed, its XML parts together
//! are read up to [`MAX_TOTAL`] bytes and the text kept is cut at the attachment size
//! limit, each with a problem. Damaged XML ends that part with a problem (what came
//! before is kept); an encrypted document (not a zip) or an older binary one (`.doc`,
//! `.xls`) is named in a problem. Never panics (the crates' own panics are caught).

use std::borrow::Cow;
use std::io::{Cursor, Read};

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

use super::archive::{open_guarded, MAX_ENTRIES, MAX_TOTAL};
use super::body::MAX_ATTACHMENT_BYTES;
use super::TextAttachment;

/// Names of the formats read here, by extension.
const EXTENSIONS: &[&str] = &[
    ".docx", ".docm", ".dotx", ".dotm", ".xlsx", ".xlsm", ".xltx", ".xltm", ".pptx", ".pptm",
    ".potx", ".potm", ".ppsx", ".ppsm", ".odt", ".ott", ".ods", ".ots", ".odp", ".otp",
];

/// Older binary formats, named in a problem: their text is not read.
const BINARY_EXTENSIONS: &[&str] = &[".doc", ".dot", ".xls", ".xlt", ".ppt", ".pot"];

/// MIME types of the formats read here (lower case), by prefix.
const MIME_PREFIXES: &[&str] = &[
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.ms-word.document.macroenabled",
    "application/vnd.ms-word.template.macroenabled",
    "application/vnd.ms-excel.sheet.macroenabled",
    "application/vnd.ms-excel.template.macroenabled",
    "application/vnd.ms-powerpoint.presentation.macroenabled",
    "application/vnd.ms-powerpoint.slideshow.macroenabled",
    "application/vnd.ms-powerpoint.template.macroenabled",
    "application/vnd.oasis.opendocument.",
];

/// Embedded documents read out of one document; more are named in a problem.
const MAX_EMBEDDED: usize = 10;

/// Which family a document is, by the parts its zip holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Word,
    Excel,
    PowerPoint,
    OpenDocument,
}

impl Family {
    /// The family of a document whose main part is `main` (named by the package's
    /// relationships), else by the parts it holds.
    fn of(parts: &[String], main: Option<&str>) -> Option<Family> {
        match main
            .and_then(|m| m.split_once('/'))
            .map(|(folder, _)| folder)
        {
            Some("word") => return Some(Family::Word),
            Some("xl") => return Some(Family::Excel),
            Some("ppt") => return Some(Family::PowerPoint),
            _ => {}
        }
        let has = |p: &str| parts.iter().any(|n| n == p);
        if has("word/document.xml") {
            Some(Family::Word)
        } else if has("xl/workbook.xml") {
            Some(Family::Excel)
        } else if has("ppt/presentation.xml") {
            Some(Family::PowerPoint)
        } else if has("content.xml") {
            Some(Family::OpenDocument)
        } else {
            None
        }
    }

    /// The parts whose text is read, in reading order (Excel's shared strings apart);
    /// `main` is Word's main part when not `word/document.xml`.
    fn text_parts<'a>(self, parts: &'a [String], main: Option<&'a str>) -> Vec<&'a str> {
        let numbered = |prefix: &str| -> Vec<&str> {
            let mut found: Vec<&str> = parts
                .iter()
                .map(String::as_str)
                .filter(|n| {
                    n.strip_prefix(prefix)
                        .is_some_and(|rest| !rest.contains('/') && rest.ends_with(".xml"))
                })
                .collect();
            // sheet2.xml before sheet10.xml
            found.sort_by_key(|n| (n.len(), *n));
            found
        };
        match self {
            Family::Word => {
                let mut out = vec![main.unwrap_or("word/document.xml")];
                for prefix in ["word/header", "word/footer"] {
                    out.extend(numbered(prefix));
                }
                for part in [
                    "word/footnotes.xml",
                    "word/endnotes.xml",
                    "word/comments.xml",
                ] {
                    if parts.iter().any(|n| n == part) {
                        out.push(part);
                    }
                }
                out
            }
            Family::Excel => {
                let mut out = numbered("xl/worksheets/sheet");
                // Excel writes xl/comments1.xml, other tools xl/comments/comment1.xml;
                // Excel 365's threaded comments have parts of their own.
                for prefix in [
                    "xl/comments",
                    "xl/comments/comment",
                    "xl/threadedComments/threadedComment",
                ] {
                    out.extend(numbered(prefix));
                }
                out
            }
            Family::PowerPoint => {
                let mut out = numbered("ppt/slides/slide");
                out.extend(numbered("ppt/notesSlides/notesSlide"));
                out.extend(numbered("ppt/comments/"));
                out
            }
            Family::OpenDocument => vec!["content.xml"],
        }
    }
}

/// The text of an attachment that is an Office document (see the module doc), else None.
/// Some(empty) when the document gave no text (the problems say why, if not empty).
pub(super) fn office_texts(
    bytes: &[u8],
    name: &str,
    mime: &str,
    problems: &mut Vec<String>,
) -> Option<Vec<TextAttachment>> {
    document_texts(bytes, name, mime, problems, true)
}

/// [`office_texts`], reading the documents embedded in this one when `embeddings`.
fn document_texts(
    bytes: &[u8],
    name: &str,
    mime: &str,
    problems: &mut Vec<String>,
    embeddings: bool,
) -> Option<Vec<TextAttachment>> {
    let lower = name.to_lowercase();
    let mime = mime.to_ascii_lowercase();
    let named = EXTENSIONS.iter().any(|e| lower.ends_with(e))
        || MIME_PREFIXES.iter().any(|p| mime.starts_with(p));
    let zip = bytes.starts_with(b"PK\x03\x04");
    if !zip {
        if named || BINARY_EXTENSIONS.iter().any(|e| lower.ends_with(e)) {
            problems.push(format!(
                "document {name:?} is encrypted or in an older binary format; its text is not read"
            ));
            return Some(Vec::new());
        }
        return None;
    }
    if !named {
        return None;
    }
    let (text, embedded) = open_guarded("document", name, bytes, problems, |problems| {
        read_document(bytes, problems, embeddings)
    })
    .unwrap_or_default();
    let text = text.trim();
    let mut out = Vec::new();
    if !text.is_empty() {
        out.push(TextAttachment {
            name: name.to_string(),
            text: text.to_string(),
        });
    }
    for (part, bytes) in embedded {
        let inner = format!("{name} / {}", embedding(&part).unwrap_or(&part));
        out.extend(document_texts(&bytes, &inner, "", problems, false).unwrap_or_default());
    }
    Some(out)
}

/// The document's text, parts separated by a blank line, and the Office documents
/// embedded in it (part name, bytes) when `embeddings` (else they are named).
fn read_document(
    bytes: &[u8],
    problems: &mut Vec<String>,
    embeddings: bool,
) -> (String, Vec<(String, Vec<u8>)>) {
    let archive = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(a) => a,
        Err(e) => {
            problems.push(format!("unreadable ({e}); not opened"));
            return Default::default();
        }
    };
    if archive.len() > MAX_ENTRIES {
        problems.push(format!(
            "{} parts; only the first {MAX_ENTRIES} looked at",
            archive.len()
        ));
    }
    let parts: Vec<String> = (0..archive.len().min(MAX_ENTRIES))
        .filter_map(|i| {
            let entry = archive.by_index_data(i).ok()?;
            entry.name().ok().map(|n| n.into_owned())
        })
        .collect();
    let mut reading = Reading {
        archive,
        problems,
        budget: MAX_TOTAL,
        text: String::new(),
    };
    let main = main_part(&mut reading, &parts);
    let Some(family) = Family::of(&parts, main.as_deref()) else {
        reading
            .problems
            .push("not a Word, Excel, PowerPoint or OpenDocument file; not read".into());
        return Default::default();
    };
    let shared = match family {
        Family::Excel if parts.iter().any(|n| n == "xl/sharedStrings.xml") => reading
            .part("xl/sharedStrings.xml")
            .map(|xml| shared_strings(&xml, reading.problems))
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let dialect = if family == Family::OpenDocument {
        Dialect::OpenDocument
    } else {
        Dialect::OfficeOpenXml { shared: &shared }
    };
    for part in family.text_parts(&parts, main.as_deref()) {
        let Some(xml) = reading.part(part) else {
            break;
        };
        let text = part_text(&xml, dialect, part, reading.problems);
        if !reading.keep(&text) {
            break;
        }
    }
    let mut embedded = Vec::new();
    for part in parts.iter().filter(|p| embedding(p).is_some()) {
        let lower = part.to_lowercase();
        if lower.ends_with(".bin") {
            reading
                .problems
                .push(format!("embedded object {part:?} (OLE) not read"));
        } else if !embeddings {
            reading.problems.push(format!(
                "{part:?} is embedded in an embedded document; not opened"
            ));
        } else if embedded.len() == MAX_EMBEDDED {
            reading.problems.push(format!(
                "more than {MAX_EMBEDDED} embedded documents; {part:?} and the rest not read"
            ));
            break;
        } else if let Some(bytes) = reading.part(part) {
            embedded.push((part.clone(), bytes));
        } else {
            break;
        }
    }
    (reading.text, embedded)
}

/// The document's main part as its package's relationships (`_rels/.rels`) name it,
/// when it is one of its parts: Word Online saves `word/document2.xml`, not
/// `word/document.xml`. None without relationships (OpenDocument) or without one.
fn main_part(reading: &mut Reading<'_>, parts: &[String]) -> Option<String> {
    const RELS: &str = "_rels/.rels";
    if !parts.iter().any(|p| p == RELS) {
        return None;
    }
    let xml = reading.part(RELS)?;
    let mut events = Events::new(&xml, RELS);
    while let Some(event) = events.next(reading.problems) {
        let (Event::Start(e) | Event::Empty(e)) = event else {
            continue;
        };
        // Transitional (…/2006/relationships/officeDocument) and Strict
        // (…/ooxml/officeDocument/relationships/officeDocument) alike.
        let main = e.local_name().as_ref() == b"Relationship"
            && attribute(&e, b"Type").is_some_and(|t| t.ends_with("/officeDocument"));
        if let Some(target) = attribute(&e, b"Target").filter(|_| main) {
            let target = target.trim_start_matches('/');
            return parts.iter().find(|p| *p == target).cloned();
        }
    }
    None
}

/// The file name of an embedded object's part (`word/embeddings/Sheet.xlsx`): an Office
/// document or an OLE object (`.bin`). None for any other part.
fn embedding(part: &str) -> Option<&str> {
    let (folder, file) = part.rsplit_once('/')?;
    let lower = file.to_lowercase();
    let known = lower.ends_with(".bin") || EXTENSIONS.iter().any(|e| lower.ends_with(e));
    (matches!(
        folder,
        "word/embeddings" | "xl/embeddings" | "ppt/embeddings"
    ) && known)
        .then_some(file)
}

/// One document as its parts are read.
struct Reading<'a> {
    archive: zip::ZipArchive<Cursor<&'a [u8]>>,
    problems: &'a mut Vec<String>,
    /// Bytes of XML left to read out of this document.
    budget: u64,
    text: String,
}

impl Reading<'_> {
    /// The XML of `part`, up to what is left of the budget; None when nothing more may be
    /// read (the problem says why). A part that cannot be read is empty, with a problem.
    fn part(&mut self, part: &str) -> Option<Vec<u8>> {
        if self.budget == 0 {
            self.problems.push(format!(
                "more than {MAX_TOTAL} bytes of XML; {part:?} and the rest not read"
            ));
            return None;
        }
        let mut xml = Vec::new();
        let read = match self.archive.by_name(part) {
            Ok(file) => file.take(self.budget).read_to_end(&mut xml),
            Err(e) => Err(std::io::Error::other(e)),
        };
        self.budget -= xml.len() as u64;
        if let Err(e) = read {
            self.problems
                .push(format!("{part:?} unreadable ({e}); skipped"));
            return Some(Vec::new());
        }
        if self.budget == 0 {
            self.problems
                .push(format!("{part:?} cut at the document's unpacked limit"));
        }
        Some(xml)
    }

    /// Adds one part's text; false once the text kept reaches the attachment limit.
    fn keep(&mut self, text: &str) -> bool {
        let text = text.trim();
        if text.is_empty() {
            return true;
        }
        if !self.text.is_empty() {
            self.text.push_str("\n\n");
        }
        let room = MAX_ATTACHMENT_BYTES.saturating_sub(self.text.len());
        if text.len() <= room {
            self.text.push_str(text);
            return true;
        }
        self.text.push_str(&text[..text.floor_char_boundary(room)]);
        self.problems.push(format!(
            "text cut at {MAX_ATTACHMENT_BYTES} bytes; the rest not read"
        ));
        false
    }
}

/// How a part's XML carries its text.
#[derive(Clone, Copy)]
enum Dialect<'a> {
    /// Text only inside `t`, `delText` and cell values `v`; a cell of type `s` holds an
    /// index into the workbook's shared strings.
    OfficeOpenXml { shared: &'a [String] },
    /// Text inside paragraphs and headings (`text:p`, `text:h`: table cells and notes
    /// hold paragraphs too); `text:s` stands for spaces.
    OpenDocument,
}

/// Elements whose text (and everything inside) is not the document's text: Word's
/// fallback copy of drawings, field codes, Excel formulas and phonetic guides, an
/// OpenDocument annotation's author and date; Word's tab stops (paragraph properties).
const SKIPPED: &[&[u8]] = &[
    b"Fallback",
    b"instrText",
    b"tabs",
    b"f",
    b"rPh",
    b"creator",
    b"date",
];

/// Text-carrying elements of Office Open XML.
const TEXT_ELEMENTS: &[&[u8]] = &[b"t", b"delText", b"v"];

/// The text of one XML part, paragraphs as lines and table or sheet rows as lines of
/// tab-separated cells. Damaged XML ends the part with a problem naming it.
fn part_text(xml: &[u8], dialect: Dialect<'_>, part: &str, problems: &mut Vec<String>) -> String {
    let mut events = Events::new(xml, part);
    let mut out = String::new();
    // Open elements whose text is kept.
    let mut inside = 0usize;
    let mut skipped = 0usize;
    // Whether the open sheet cell's value is an index into the shared strings.
    let mut shared_cell = false;
    while let Some(event) = events.next(problems) {
        match event {
            Event::Start(e) => {
                let local = e.local_name();
                let local = local.as_ref();
                if SKIPPED.contains(&local) {
                    skipped += 1;
                } else if opens_text(local, dialect) {
                    inside += 1;
                }
                if local == b"c" {
                    shared_cell = attribute(&e, b"t").as_deref() == Some("s");
                }
            }
            Event::End(e) => {
                let local = e.local_name();
                let local = local.as_ref();
                if SKIPPED.contains(&local) {
                    skipped = skipped.saturating_sub(1);
                } else if opens_text(local, dialect) {
                    inside = inside.saturating_sub(1);
                }
                if skipped == 0 {
                    end_of(local, &mut out);
                }
                if local == b"c" {
                    shared_cell = false;
                }
            }
            Event::Empty(e) if skipped == 0 => {
                let local = e.local_name();
                match local.as_ref() {
                    b"tab" => out.push('\t'),
                    b"br" | b"cr" | b"line-break" => out.push('\n'),
                    b"s" if matches!(dialect, Dialect::OpenDocument) => {
                        let n = attribute(&e, b"c").and_then(|c| c.parse::<usize>().ok());
                        out.extend(std::iter::repeat_n(' ', n.unwrap_or(1).min(1_000)));
                    }
                    other => end_of(other, &mut out),
                }
            }
            Event::Text(t) if inside > 0 && skipped == 0 => {
                let text = t.decode().unwrap_or(Cow::Borrowed(""));
                match dialect {
                    Dialect::OfficeOpenXml { shared } if shared_cell => {
                        let index = text.trim().parse::<usize>().ok();
                        out.push_str(index.and_then(|i| shared.get(i)).map_or("", |s| s));
                    }
                    _ => out.push_str(&text),
                }
            }
            Event::CData(t) if inside > 0 && skipped == 0 => {
                out.push_str(&String::from_utf8_lossy(&t));
            }
            Event::GeneralRef(r) if inside > 0 && skipped == 0 => push_reference(&r, &mut out),
            _ => {}
        }
        if out.len() > MAX_ATTACHMENT_BYTES {
            // The caller cuts at the limit and says so.
            break;
        }
    }
    out
}

/// The events of one XML part, read leniently (end tags need not match: Office files in
/// the wild break that rule); damage ends them with a problem naming the part.
struct Events<'a> {
    reader: Reader<&'a [u8]>,
    part: &'a str,
}

impl<'a> Events<'a> {
    fn new(xml: &'a [u8], part: &'a str) -> Self {
        let mut reader = Reader::from_reader(xml);
        let config = reader.config_mut();
        config.check_end_names = false;
        config.allow_unmatched_ends = true;
        Events { reader, part }
    }

    /// The next event, or None at the end or at damage (said in `problems`).
    fn next(&mut self, problems: &mut Vec<String>) -> Option<Event<'a>> {
        match self.reader.read_event() {
            Ok(Event::Eof) => None,
            Ok(e) => Some(e),
            Err(e) => {
                problems.push(format!(
                    "{:?} damaged at byte {} ({e}); the rest of it not read",
                    self.part,
                    self.reader.error_position()
                ));
                None
            }
        }
    }
}

/// Whether `local` opens an element whose text is the document's.
fn opens_text(local: &[u8], dialect: Dialect<'_>) -> bool {
    match dialect {
        Dialect::OfficeOpenXml { .. } => TEXT_ELEMENTS.contains(&local),
        Dialect::OpenDocument => matches!(local, b"p" | b"h"),
    }
}

/// What the end of an element adds: a line break after a paragraph or row, a tab after
/// a table or sheet cell.
fn end_of(local: &[u8], out: &mut String) {
    match local {
        b"p" | b"h" => out.push('\n'),
        b"tc" | b"c" | b"table-cell" => {
            if out.ends_with('\n') {
                out.pop();
            }
            out.push('\t');
        }
        b"tr" | b"row" | b"table-row" => {
            if out.ends_with('\t') {
                out.pop();
            }
            out.push('\n');
        }
        _ => {}
    }
}

/// `&amp;`, `&#65;` …: the character, or the reference as written when unknown.
fn push_reference(r: &BytesRef<'_>, out: &mut String) {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        out.push(c);
        return;
    }
    let name = r.decode().unwrap_or(Cow::Borrowed(""));
    match quick_xml::escape::resolve_predefined_entity(&name) {
        Some(s) => out.push_str(s),
        None => {
            out.push('&');
            out.push_str(&name);
            out.push(';');
        }
    }
}

/// The value of attribute `name` (local name, any prefix).
fn attribute(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
}

/// Excel's shared strings, in order: each `si` item's text (rich text runs joined,
/// phonetic guides left out).
fn shared_strings(xml: &[u8], problems: &mut Vec<String>) -> Vec<String> {
    let mut events = Events::new(xml, "xl/sharedStrings.xml");
    let mut strings = Vec::new();
    let mut current = String::new();
    let (mut in_text, mut phonetic) = (0usize, 0usize);
    let mut total = 0usize;
    while let Some(event) = events.next(problems) {
        match event {
            Event::Start(e) => match e.local_name().as_ref() {
                b"t" => in_text += 1,
                b"rPh" => phonetic += 1,
                _ => {}
            },
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_text = in_text.saturating_sub(1),
                b"rPh" => phonetic = phonetic.saturating_sub(1),
                b"si" => {
                    total += current.len();
                    strings.push(std::mem::take(&mut current));
                }
                _ => {}
            },
            Event::Empty(e) if e.local_name().as_ref() == b"si" => strings.push(String::new()),
            Event::Text(t) if in_text > 0 && phonetic == 0 => {
                current.push_str(&t.decode().unwrap_or(Cow::Borrowed("")));
            }
            Event::GeneralRef(r) if in_text > 0 && phonetic == 0 => {
                push_reference(&r, &mut current)
            }
            _ => {}
        }
        if total > MAX_ATTACHMENT_BYTES {
            problems.push(format!(
                "shared strings beyond {MAX_ATTACHMENT_BYTES} bytes not read"
            ));
            break;
        }
    }
    strings
}
