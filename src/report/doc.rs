//! A small document model with two renderings: Markdown and a self-contained
//! HTML page (inline style, the plot as inline SVG, no external assets).
//! Text may hold `code` spans in backticks; each renderer shows them as code.

use std::fmt::Write;

/// One block of the report.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    Heading(u8, String),
    Para(String),
    List(Vec<String>),
    /// Column heads, which columns are right-aligned, rows.
    Table {
        head: Vec<String>,
        right: Vec<bool>,
        rows: Vec<Vec<String>>,
    },
    /// Preformatted text (commands).
    Code(String),
    /// An SVG image: its alternative text and the SVG document.
    Svg {
        alt: String,
        svg: String,
    },
}

/// Output formats.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Format {
    Markdown,
    Html,
}

pub fn render(title: &str, blocks: &[Block], format: Format) -> String {
    match format {
        Format::Markdown => markdown(title, blocks),
        Format::Html => html(title, blocks),
    }
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(title: &str, blocks: &[Block]) -> String {
    let mut out = format!("# {title}\n");
    for b in blocks {
        out.push('\n');
        match b {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "{} {text}", "#".repeat(usize::from(*level).clamp(2, 6)));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "{text}");
            }
            Block::List(items) => {
                for i in items {
                    let _ = writeln!(out, "- {i}");
                }
            }
            Block::Table { head, right, rows } => {
                let _ = writeln!(out, "| {} |", head.iter().map(|h| md_cell(h)).collect::<Vec<_>>().join(" | "));
                let rules: Vec<&str> = (0..head.len())
                    .map(|k| if right.get(k).copied().unwrap_or(false) { "---:" } else { "---" })
                    .collect();
                let _ = writeln!(out, "|{}|", rules.join("|"));
                for r in rows {
                    let _ = writeln!(out, "| {} |", r.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | "));
                }
            }
            Block::Code(text) => {
                let _ = writeln!(out, "```\n{}\n```", text.trim_end());
            }
            Block::Svg { alt, svg } => {
                let _ = writeln!(out, "![{alt}](data:image/svg+xml;base64,{})", base64(svg.as_bytes()));
            }
        }
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Escaped text with `code` spans as `<code>`.
fn inline(s: &str) -> String {
    let mut out = String::new();
    for (k, part) in s.split('`').enumerate() {
        if k % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", esc(part));
        } else {
            out += &esc(part);
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;max-width:72em;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:.25em .6em}\
th{background:#f2f2f2}td.r{text-align:right}code,pre{font-family:monospace;background:#f6f6f6}\
pre{padding:.6em;overflow-x:auto}";

pub fn html(title: &str, blocks: &[Block]) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        esc(title),
        inline(title)
    );
    for b in blocks {
        match b {
            Block::Heading(level, text) => {
                let l = level.clamp(&2, &6);
                let _ = writeln!(out, "<h{l}>{}</h{l}>", inline(text));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "<p>{}</p>", inline(text));
            }
            Block::List(items) => {
                out += "<ul>\n";
                for i in items {
                    let _ = writeln!(out, "<li>{}</li>", inline(i));
                }
                out += "</ul>\n";
            }
            Block::Table { head, right, rows } => {
                out += "<table>\n<tr>";
                for h in head {
                    let _ = write!(out, "<th>{}</th>", inline(h));
                }
                out += "</tr>\n";
                for r in rows {
                    out += "<tr>";
                    for (k, c) in r.iter().enumerate() {
                        let class = if right.get(k).copied().unwrap_or(false) { " class=\"r\"" } else { "" };
                        let _ = write!(out, "<td{class}>{}</td>", inline(c));
                    }
                    out += "</tr>\n";
                }
                out += "</table>\n";
            }
            Block::Code(text) => {
                let _ = writeln!(out, "<pre>{}</pre>", esc(text.trim_end()));
            }
            Block::Svg { alt, svg } => {
                let _ = writeln!(out, "<figure role=\"img\" aria-label=\"{}\">\n{}</figure>", esc(alt), svg.trim_end());
            }
        }
    }
    out += "</body>\n</html>\n";
    out
}

/// Standard base64 (RFC 4648, with padding), for the Markdown data URI.
pub fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The first Markdown pipe table in `text` (the benchmark table `bench`
/// prints) as a table block; `None` when `text` holds no table.
pub fn pipe_table(text: &str) -> Option<Block> {
    let cells = |l: &str| -> Vec<String> {
        l.trim().trim_start_matches('|').trim_end_matches('|').split('|').map(|c| c.trim().to_string()).collect()
    };
    let mut lines = text.lines().skip_while(|l| !l.trim_start().starts_with('|'));
    let head = cells(lines.next()?);
    let rule = cells(lines.next()?);
    if !rule.iter().all(|c| !c.is_empty() && c.chars().all(|ch| ch == '-' || ch == ':')) {
        return None;
    }
    let right = rule.iter().map(|c| c.ends_with(':')).collect();
    let rows = lines.take_while(|l| l.trim_start().starts_with('|')).map(cells).collect();
    Some(Block::Table { head, right, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")];
        for (i, o) in cases {
            assert_eq!(base64(i.as_bytes()), o, "{i:?}");
        }
        assert_eq!(base64("foobar".as_bytes()), "Zm9vYmFy");
    }

    #[test]
    fn both_renderings_escape_and_mark_code() {
        let blocks = vec![
            Block::Para("a `x<y` & b".into()),
            Block::Table {
                head: vec!["k".into(), "v".into()],
                right: vec![false, true],
                rows: vec![vec!["a|b".into(), "1".into()]],
            },
        ];
        let md = markdown("T", &blocks);
        assert!(md.contains("a `x<y` & b"), "{md}");
        assert!(md.contains("| a\\|b | 1 |"), "{md}");
        assert!(md.contains("|---|---:|"), "{md}");
        let h = html("T", &blocks);
        assert!(h.contains("<p>a <code>x&lt;y</code> &amp; b</p>"), "{h}");
        assert!(h.contains("<td>a|b</td><td class=\"r\">1</td>"), "{h}");
    }

    #[test]
    fn pipe_table_reads_a_markdown_table() {
        let t = "intro\n| a | b |\n|---|---:|\n| 1 | 2 |\n| 3 | 4 |\n\nafter\n";
        let Some(Block::Table { head, right, rows }) = pipe_table(t) else { panic!("no table") };
        assert_eq!(head, vec!["a", "b"]);
        assert_eq!(right, vec![false, true]);
        assert_eq!(rows, vec![vec!["1", "2"], vec!["3", "4"]]);
        assert_eq!(pipe_table("no table\n"), None);
    }
}
