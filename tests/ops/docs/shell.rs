//! Fenced blocks of Markdown, and shell text split into commands as sh reads it.

/// A fenced block of a Markdown file.
#[derive(Debug)]
pub(super) struct Block {
    /// `file:line` of the opening fence.
    pub(super) place: String,
    pub(super) lang: String,
    pub(super) text: String,
}

/// The fenced blocks of `text`, indented ones (in a list item) included.
pub(super) fn blocks(file: &str, text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    // The open block: its first line, its indentation, its language and its text.
    let mut open: Option<(usize, usize, String, String)> = None;
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let fence = line.trim_start().strip_prefix("```");
        if fence == Some("")
            && let Some((start, _, lang, text)) = open.take()
        {
            out.push(Block {
                place: format!("{file}:{start}"),
                lang,
                text,
            });
        } else if let Some((_, indent, _, text)) = &mut open {
            text.push_str(line.get(*indent..).unwrap_or(line.trim_start()));
            text.push('\n');
        } else if let Some(lang) = fence {
            open = Some((n + 1, indent, lang.trim().to_owned(), String::new()));
        }
    }
    assert!(open.is_none(), "{file}: a block is never closed");
    out
}

/// One simple command: its leading `VAR=value` assignments and its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cmd {
    pub(super) env: Vec<(String, String)>,
    pub(super) argv: Vec<String>,
    /// Its standard input is the previous command's output (`a | b`).
    pub(super) piped: bool,
}

impl Cmd {
    pub(super) fn show(&self) -> String {
        let env = self.env.iter().map(|(k, v)| format!("{k}={v}"));
        env.chain(self.argv.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Splits shell text into simple commands, as sh reads it: `\` joins lines, `#` starts a
/// comment, quotes group words, and `&&`, `||`, `;`, `|` and newlines separate commands.
/// What the checkers could not follow (substitutions, redirections, background jobs) is
/// an error, so a block cannot hide a command inside one.
pub(super) fn commands(text: &str) -> Result<Vec<Cmd>, String> {
    struct Acc {
        out: Vec<Cmd>,
        words: Vec<String>,
        word: String,
        in_word: bool,
        piped: bool,
    }
    impl Acc {
        fn end_word(&mut self) {
            if self.in_word {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        }
        fn end_command(&mut self, next_piped: bool) -> Result<(), String> {
            self.end_word();
            let mut words = std::mem::take(&mut self.words).into_iter().peekable();
            let mut env = Vec::new();
            while let Some((name, value)) = words.peek().and_then(|w| assignment(w)) {
                env.push((name, value));
                words.next();
            }
            let argv: Vec<String> = words.collect();
            if argv.is_empty() {
                if !env.is_empty() || self.piped || next_piped {
                    return Err("an operator or assignment without a command".into());
                }
            } else {
                self.out.push(Cmd {
                    env,
                    argv,
                    piped: self.piped,
                });
            }
            self.piped = next_piped;
            Ok(())
        }
    }
    let unsupported = |what: &str| Err(format!("{what} (no checker follows it)"));
    let mut acc = Acc {
        out: Vec::new(),
        words: Vec::new(),
        word: String::new(),
        in_word: false,
        piped: false,
    };
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(next) => {
                    acc.word.push(next);
                    acc.in_word = true;
                }
                None => return Err("a backslash at the end".into()),
            },
            '\'' => {
                acc.in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => acc.word.push(x),
                        None => return Err("an unclosed '".into()),
                    }
                }
            }
            '"' => {
                acc.in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x @ ('"' | '\\' | '$' | '`')) => acc.word.push(x),
                            Some('\n') => {}
                            Some(x) => acc.word.extend(['\\', x]),
                            None => return Err("an unclosed \"".into()),
                        },
                        Some('$') if chars.peek() == Some(&'(') => {
                            return unsupported("a command substitution");
                        }
                        Some('`') => return unsupported("a command substitution"),
                        Some(x) => acc.word.push(x),
                        None => return Err("an unclosed \"".into()),
                    }
                }
            }
            '#' if !acc.in_word => {
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
            }
            ' ' | '\t' => acc.end_word(),
            '\n' | ';' => acc.end_command(false)?,
            '&' if chars.peek() == Some(&'&') => {
                chars.next();
                acc.end_command(false)?;
            }
            '&' => return unsupported("a background job"),
            '|' if chars.peek() == Some(&'|') => {
                chars.next();
                acc.end_command(false)?;
            }
            '|' => acc.end_command(true)?,
            '<' | '>' => return unsupported("a redirection"),
            '`' => return unsupported("a command substitution"),
            '$' if chars.peek() == Some(&'(') => return unsupported("a command substitution"),
            c => {
                acc.word.push(c);
                acc.in_word = true;
            }
        }
    }
    acc.end_command(false)?;
    Ok(acc.out)
}

/// `NAME=value` as a leading assignment.
pub(super) fn assignment(word: &str) -> Option<(String, String)> {
    let (name, value) = word.split_once('=')?;
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| (name.to_owned(), value.to_owned()))
}

/// One command of a console block, with the output shown under it.
#[derive(Debug)]
pub(super) struct Step {
    pub(super) line: usize,
    pub(super) command: String,
    pub(super) output: Vec<String>,
}

/// The `$ ` lines of a console block (with their `\` continuations) and their output.
pub(super) fn session(text: &str) -> Result<Vec<Step>, String> {
    let mut steps: Vec<Step> = Vec::new();
    let mut continued = false;
    for (n, line) in text.lines().enumerate() {
        if continued {
            let step = steps.last_mut().unwrap();
            step.command.push('\n');
            step.command.push_str(line);
            continued = line.ends_with('\\');
        } else if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                line: n + 1,
                command: command.to_owned(),
                output: Vec::new(),
            });
            continued = command.ends_with('\\');
        } else if let Some(step) = steps.last_mut() {
            step.output.push(line.to_owned());
        } else if !line.trim().is_empty() {
            return Err(format!("output before the first `$ ` line: {line:?}"));
        }
    }
    Ok(steps)
}
