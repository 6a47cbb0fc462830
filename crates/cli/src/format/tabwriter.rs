//! Go's `text/tabwriter` (flags 0, left-aligned) over a complete text.
//!
//! Cells are tab-terminated; the text after a line's last tab is not part of
//! any column. A column block is a run of consecutive lines that all have a
//! terminated cell in that column; its width is the widest cell plus
//! `padding`, at least `minwidth`. Blocks are computed recursively, left to
//! right, exactly as Go's `Writer.format` does.

/// Podman's writer: `tabwriter.NewWriter(out, 12, 2, 2, ' ', 0)`
/// (c/common `pkg/report` `NewWriterDefault`).
pub const PODMAN: TabWriter = TabWriter {
    minwidth: 12,
    padding: 2,
    padchar: ' ',
};

#[derive(Debug, Clone, Copy)]
pub struct TabWriter {
    pub minwidth: usize,
    pub padding: usize,
    pub padchar: char,
}

impl TabWriter {
    /// Aligns `text` as Go's tabwriter would after writing it all and flushing.
    pub fn align(&self, text: &str) -> String {
        let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
        let mut out = String::with_capacity(text.len() * 2);
        let mut widths = Vec::new();
        self.format(&lines, &mut out, &mut widths, 0, lines.len());
        out
    }

    fn format(
        &self,
        lines: &[Vec<&str>],
        out: &mut String,
        widths: &mut Vec<usize>,
        mut line0: usize,
        line1: usize,
    ) {
        let column = widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= lines[this].len() {
                this += 1;
                continue;
            }
            // A cell exists in this column: a block of such lines begins.
            self.write_lines(lines, out, widths, line0, this);
            line0 = this;
            let mut width = self.minwidth;
            while this < line1 && column + 1 < lines[this].len() {
                width = width.max(lines[this][column].chars().count() + self.padding);
                this += 1;
            }
            widths.push(width);
            self.format(lines, out, widths, line0, this);
            widths.pop();
            line0 = this;
        }
        self.write_lines(lines, out, widths, line0, line1);
    }

    fn write_lines(
        &self,
        lines: &[Vec<&str>],
        out: &mut String,
        widths: &[usize],
        line0: usize,
        line1: usize,
    ) {
        for (i, line) in lines.iter().enumerate().take(line1).skip(line0) {
            for (j, cell) in line.iter().enumerate() {
                out.push_str(cell);
                if let Some(w) = widths.get(j) {
                    let fill = w.saturating_sub(cell.chars().count());
                    out.extend(std::iter::repeat_n(self.padchar, fill));
                }
            }
            if i + 1 < lines.len() {
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected strings are the ones Go prints (c/common writer_test.go and
    // formatter_test.go), or worked out by hand from Go's rules.
    #[test]
    fn podman_default_writer() {
        assert_eq!(
            PODMAN.align("a46001bfea3a4172b46c173101208244\tRandom\tuuid"),
            "a46001bfea3a4172b46c173101208244  Random      uuid"
        );
        let tw = TabWriter {
            minwidth: 4,
            padding: 1,
            padchar: ':',
        };
        assert_eq!(tw.align("Hello\tWorld"), "Hello:World");
        assert_eq!(tw.align("Be\tGood"), "Be::Good");
    }

    #[test]
    fn blocks_end_at_lines_without_the_cell() {
        let text = "Value\tIdent\nIdentity\tID\nValue\tIdent\nc061a0839e\tIDf10fc2e11057\tID1eb6fab5aa8f4b5cbfd3e66aa35e9b2a\tID\n";
        assert_eq!(
            PODMAN.align(text),
            "Value       Ident\nIdentity    ID\nValue       Ident\nc061a0839e  IDf10fc2e11057  ID1eb6fab5aa8f4b5cbfd3e66aa35e9b2a  ID\n"
        );
        // A line without tabs splits the column into two blocks.
        assert_eq!(
            PODMAN.align("a\tb\nno tabs here\nlonger-than-twelve\tc\n"),
            "a           b\nno tabs here\nlonger-than-twelve  c\n"
        );
        // The last cell is not padded; empty cells are; widths count characters.
        assert_eq!(
            PODMAN.align("é\t\tz\nx\ty\t\n"),
            "é                       z\nx           y           \n"
        );
    }
}
