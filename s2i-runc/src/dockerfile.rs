//! Reading a Dockerfile as Docker's parser does: instructions with their
//! continuation lines joined and comments dropped, the `escape` parser
//! directive, JSON (exec) forms, and shell-like words with quotes, escapes
//! and variables (`$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME:+alt}`).
//! Running the instructions is [`crate::build`]'s.

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Instruction {
    /// The keyword, upper case (`RUN`).
    pub(crate) keyword: String,
    /// The rest of the instruction, continuation lines joined.
    pub(crate) args: String,
    /// Its first line in the file (1-based).
    pub(crate) line: usize,
}

impl std::fmt::Display for Instruction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.keyword, self.args)
    }
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dockerfile {
    /// The escape character (`\` unless a directive says `` ` ``).
    pub(crate) escape: char,
    pub(crate) instructions: Vec<Instruction>,
}

/// Parse a Dockerfile's text.
pub(crate) fn parse(text: &str) -> Result<Dockerfile, String> {
    let mut escape = '\\';
    let mut lines = text.lines().enumerate().peekable();
    // Parser directives: `# name=value` lines before anything else.
    while let Some((_, line)) = lines.peek() {
        let Some(directive) = line.trim().strip_prefix('#') else { break };
        let Some((name, value)) = directive.split_once('=') else { break };
        match name.trim().to_ascii_lowercase().as_str() {
            "escape" => {
                escape = match value.trim() {
                    "\\" => '\\',
                    "`" => '`',
                    other => return Err(format!("invalid escape directive {other:?}: it must be ` or \\")),
                };
            }
            "syntax" | "check" => {}
            _ => break,
        }
        lines.next();
    }
    let mut instructions = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, raw) in lines {
        let trimmed = raw.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_some()) {
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        let (start, mut text) = pending.take().unwrap_or((index + 1, String::new()));
        let continued = trimmed.ends_with(escape);
        let part = if continued { &trimmed[..trimmed.len() - escape.len_utf8()] } else { trimmed };
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(part.trim());
        if continued {
            pending = Some((start, text));
            continue;
        }
        instructions.push(instruction(start, &text)?);
    }
    if let Some((start, text)) = pending {
        instructions.push(instruction(start, &text)?);
    }
    Ok(Dockerfile { escape, instructions })
}

/// An instruction from one (joined) line.
pub(crate) fn instruction(line: usize, text: &str) -> Result<Instruction, String> {
    let text = text.trim();
    let (keyword, args) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    if keyword.is_empty() {
        return Err(format!("line {line}: an empty instruction"));
    }
    Ok(Instruction { keyword: keyword.to_ascii_uppercase(), args: args.trim().to_owned(), line })
}

/// The JSON (exec) form of an argument, when it is a JSON array of strings.
pub(crate) fn json_args(args: &str) -> Option<Vec<String>> {
    let trimmed = args.trim();
    if !trimmed.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(trimmed).ok()
}

/// Flags at the start of an argument (`--chown=1001:0 --from=x …`) and the rest.
pub(crate) fn leading_flags(args: &str) -> (Vec<(String, String)>, &str) {
    let mut flags = Vec::new();
    let mut rest = args.trim_start();
    while let Some(after) = rest.strip_prefix("--") {
        let end = after.find(char::is_whitespace).unwrap_or(after.len());
        let flag = &after[..end];
        let (name, value) = flag.split_once('=').unwrap_or((flag, ""));
        flags.push((name.to_owned(), value.to_owned()));
        rest = after[end..].trim_start();
    }
    (flags, rest)
}

/// Shell-like words of `text`: split at unquoted white space, quotes
/// removed, escapes applied, variables expanded by `vars` (not in single
/// quotes). With `split` false the whole text is one word.
pub(crate) fn words(
    text: &str,
    escape: char,
    vars: &dyn Fn(&str) -> Option<String>,
    split: bool,
) -> Result<Vec<String>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == escape {
            if let Some(&next) = chars.get(i + 1) {
                word.push(next);
                in_word = true;
                i += 2;
                continue;
            }
            i += 1;
            continue;
        }
        match c {
            c if c.is_whitespace() && split => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
                i += 1;
            }
            '\'' => {
                let end = chars[i + 1..].iter().position(|&c| c == '\'').ok_or("an unterminated single quote")?;
                word.extend(&chars[i + 1..i + 1 + end]);
                in_word = true;
                i += end + 2;
            }
            '"' => {
                i += 1;
                loop {
                    let Some(&c) = chars.get(i) else { return Err("an unterminated double quote".to_owned()) };
                    if c == '"' {
                        i += 1;
                        break;
                    }
                    if c == escape && matches!(chars.get(i + 1), Some('"' | '$') | Some('\\') | Some('`')) {
                        word.push(chars[i + 1]);
                        i += 2;
                        continue;
                    }
                    if c == '$' {
                        let (value, used) = variable(&chars[i..], escape, vars)?;
                        word.push_str(&value);
                        i += used;
                        continue;
                    }
                    word.push(c);
                    i += 1;
                }
                in_word = true;
            }
            '$' => {
                let (value, used) = variable(&chars[i..], escape, vars)?;
                word.push_str(&value);
                in_word = true;
                i += used;
            }
            c => {
                word.push(c);
                in_word = true;
                i += 1;
            }
        }
    }
    if in_word || (!split && out.is_empty()) {
        out.push(word);
    }
    Ok(out)
}

/// One word of `text` (quotes removed, variables expanded, no splitting).
pub(crate) fn word(text: &str, escape: char, vars: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    Ok(words(text, escape, vars, false)?.into_iter().next().unwrap_or_default())
}

/// A variable reference at the start of `chars` (which begins with `$`):
/// its value and the characters it took.
fn variable(chars: &[char], escape: char, vars: &dyn Fn(&str) -> Option<String>) -> Result<(String, usize), String> {
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    match chars.get(1) {
        Some('{') => {
            let end = chars.iter().position(|&c| c == '}').ok_or("a ${ without its }")?;
            let inner: String = chars[2..end].iter().collect();
            let value = if let Some((name, default)) = inner.split_once(":-") {
                vars(name).filter(|v| !v.is_empty()).map_or_else(|| word(default, escape, vars), Ok)?
            } else if let Some((name, alternative)) = inner.split_once(":+") {
                if vars(name).is_some_and(|v| !v.is_empty()) { word(alternative, escape, vars)? } else { String::new() }
            } else if inner.chars().all(name_char) && !inner.is_empty() {
                vars(&inner).unwrap_or_default()
            } else {
                return Err(format!("unsupported variable reference ${{{inner}}}"));
            };
            Ok((value, end + 1))
        }
        Some(&c) if name_char(c) => {
            let length = chars[1..].iter().take_while(|&&c| name_char(c)).count();
            let name: String = chars[1..1 + length].iter().collect();
            Ok((vars(&name).unwrap_or_default(), 1 + length))
        }
        _ => Ok(("$".to_owned(), 1)),
    }
}

/// `KEY=VALUE …` pairs (ENV, LABEL), or the legacy `KEY VALUE` of one pair.
pub(crate) fn key_values(
    args: &str,
    escape: char,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, String> {
    let first = args.split_whitespace().next().unwrap_or_default();
    if !first.contains('=') {
        let (key, value) =
            args.trim().split_once(char::is_whitespace).ok_or_else(|| format!("{args:?} has no value"))?;
        return Ok(vec![(key.to_owned(), word(value.trim(), escape, vars)?)]);
    }
    let mut pairs = Vec::new();
    for item in words(args, escape, vars, true)? {
        let (key, value) = item.split_once('=').ok_or_else(|| format!("{item:?} is not KEY=VALUE"))?;
        if key.is_empty() {
            return Err(format!("{item:?} has an empty key"));
        }
        pairs.push((key.to_owned(), value.to_owned()));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/opt/app".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn instructions_join_continuations_and_drop_comments() {
        let file = parse("# escape=\\\nFROM base\n# a comment\nRUN echo a \\\n  # inner comment\n  && echo b\nonbuild COPY . /src/\n").unwrap();
        let shown: Vec<String> = file.instructions.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["FROM base", "RUN echo a && echo b", "ONBUILD COPY . /src/"]);
        assert_eq!(file.instructions[1].line, 4);
        let backtick = parse("# escape=`\nRUN dir `\n  c:\\\n").unwrap();
        assert_eq!(backtick.instructions[0].args, "dir c:\\");
    }

    #[test]
    fn words_quotes_and_variables() {
        let w = |t: &str| words(t, '\\', &vars, true).unwrap();
        assert_eq!(
            w(r#"a "b c" 'd $HOME' $HOME ${HOME}/x \$HOME"#),
            ["a", "b c", "d $HOME", "/opt/app", "/opt/app/x", "$HOME"]
        );
        assert_eq!(w("${MISSING:-def} ${EMPTY:-e} ${HOME:+set} x${MISSING:+no}y"), ["def", "e", "set", "xy"]);
        assert_eq!(word("a b  c", '\\', &vars).unwrap(), "a b  c");
        assert!(words("'open", '\\', &vars, true).is_err());
    }

    #[test]
    fn env_and_label_pairs() {
        assert_eq!(
            key_values(r#"A=1 B="two words" C=$HOME"#, '\\', &vars).unwrap(),
            [("A".into(), "1".into()), ("B".into(), "two words".into()), ("C".into(), "/opt/app".into())]
        );
        assert_eq!(key_values("LEGACY some value", '\\', &vars).unwrap(), [("LEGACY".into(), "some value".into())]);
        assert_eq!(json_args(r#"["./run", "x"]"#).unwrap(), ["./run", "x"]);
        assert!(json_args("./run").is_none());
        let (flags, rest) = leading_flags("--chown=1001:0 --chmod=0755 src dst");
        assert_eq!(flags, [("chown".to_owned(), "1001:0".to_owned()), ("chmod".to_owned(), "0755".to_owned())]);
        assert_eq!(rest, "src dst");
    }
}
