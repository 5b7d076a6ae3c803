//! Script errors, worded for the tenant administrator who wrote the script.
//!
//! Every error names the script and, where Rhai knows it, the line and column. Rhai's own errors
//! are translated here and nowhere else; callers match on [`ScriptError`] and [`Limit`], never on
//! Rhai types.

use std::fmt;
use std::time::Duration;

use rhai::{EvalAltResult, LexError, ParseError, ParseErrorType, Position};

use crate::sandbox::{Limits, DEADLINE_TOKEN, FORBIDDEN_SYMBOLS};

/// Which limit of the sandbox a script hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// Too many operations in one call.
    Operations,
    /// Functions nested too deeply (usually endless recursion).
    CallDepth,
    /// Expressions nested too deeply (found when compiling).
    ExpressionDepth,
    /// A string (or all strings in one array or map together) grew too long.
    StringSize,
    /// An array grew too long.
    ArraySize,
    /// An object map grew too large.
    MapSize,
    /// Too many variables alive at once.
    Variables,
    /// A module import (scripts may not import modules).
    Modules,
    /// The call ran longer than its wall-clock time limit.
    Time,
}

impl Limit {
    /// The limit's name as a tenant administrator sees it, e.g. `"time limit"`.
    pub fn name(self) -> &'static str {
        match self {
            Limit::Operations => "operation limit",
            Limit::CallDepth => "call depth limit",
            Limit::ExpressionDepth => "expression depth limit",
            Limit::StringSize => "string size limit",
            Limit::ArraySize => "array size limit",
            Limit::MapSize => "map size limit",
            Limit::Variables => "variable limit",
            Limit::Modules => "module limit",
            Limit::Time => "time limit",
        }
    }

    /// The limit's value in `limits`, in the unit [`ScriptError::LimitExceeded`] reports it:
    /// milliseconds for [`Limit::Time`], bytes for [`Limit::StringSize`], a count otherwise.
    pub fn value_in(self, limits: &Limits) -> u64 {
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        match self {
            Limit::Operations => limits.max_operations,
            Limit::CallDepth => count(limits.max_call_levels),
            Limit::ExpressionDepth => count(limits.max_expr_depth),
            Limit::StringSize => count(limits.max_string_size),
            Limit::ArraySize => count(limits.max_array_size),
            Limit::MapSize => count(limits.max_map_size),
            Limit::Variables => count(limits.max_variables),
            Limit::Modules => count(limits.max_modules),
            Limit::Time => u64::try_from(limits.timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }

    fn explain(self, max: u64) -> String {
        let what = match self {
            Limit::Operations => format!("it ran more than {max} operations"),
            Limit::CallDepth => format!("functions called each other more than {max} levels deep"),
            // Rhai does not say whether the expression was inside a function (where the limit is
            // lower), so the number is left out.
            Limit::ExpressionDepth => "an expression is nested too deeply".to_string(),
            Limit::StringSize => format!("a text grew longer than {max} bytes"),
            Limit::ArraySize => format!("an array grew beyond {max} items"),
            Limit::MapSize => format!("an object map grew beyond {max} entries"),
            Limit::Variables => format!("it kept more than {max} variables at once"),
            Limit::Modules => "it tried to import a module, which scripts may not do".to_string(),
            Limit::Time => format!("it ran for more than {}", Millis(max)),
        };
        format!("{what} ({})", self.name())
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a script could not be compiled or run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScriptError {
    /// The script is not valid Rhai, or uses something the sandbox forbids.
    #[error("script \"{script}\" does not compile{}: {message}", At(*.line, *.column))]
    Compile {
        script: String,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    /// The script failed while running (a thrown error, a bad index, a missing function …).
    #[error("script \"{script}\" failed{}: {message}", At(*.line, *.column))]
    Runtime {
        script: String,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    /// The script hit one of the sandbox's limits and was stopped. `max` is the limit's value,
    /// in the unit given by [`Limit::value_in`].
    ///
    /// Rhai places a limit hit inside a script function at the outermost call of that function
    /// in the script, not at the statement that hit it. A hook's entry function is called by the
    /// host, not from the script, so limits hit in a hook usually come without line and column.
    #[error("script \"{script}\" stopped{}: {}", At(*.line, *.column), .limit.explain(*.max))]
    LimitExceeded {
        script: String,
        limit: Limit,
        max: u64,
        line: Option<usize>,
        column: Option<usize>,
    },
    /// The script returned a value of a shape the caller cannot use.
    #[error("script \"{script}\" returned {found}, which is not what was expected: {message}")]
    WrongOutputType {
        script: String,
        /// What the script returned, e.g. "an integer" or "a function pointer".
        found: String,
        message: String,
    },
    /// The script returned an output of the right shape that its hook does not accept, e.g. a
    /// negative tax or a lead score above 100.
    #[error(
        "script \"{script}\" returned an output the hook \"{hook}\" does not accept: {message}"
    )]
    InvalidOutput {
        script: String,
        /// The hook's name, e.g. `tax.purchase`.
        hook: String,
        message: String,
    },
    /// The script has no function of that name taking that many inputs.
    #[error("script \"{script}\" has no function \"{function}\" taking {arity} input(s)")]
    MissingFunction {
        script: String,
        function: String,
        arity: usize,
    },
    /// The caller passed inputs the script cannot take (a programming error in the host, not the
    /// script's fault).
    #[error("script \"{script}\" was given unusable inputs: {message}")]
    InvalidInput { script: String, message: String },
}

impl ScriptError {
    /// The name of the script the error is about.
    pub fn script(&self) -> &str {
        match self {
            ScriptError::Compile { script, .. }
            | ScriptError::Runtime { script, .. }
            | ScriptError::LimitExceeded { script, .. }
            | ScriptError::WrongOutputType { script, .. }
            | ScriptError::InvalidOutput { script, .. }
            | ScriptError::MissingFunction { script, .. }
            | ScriptError::InvalidInput { script, .. } => script,
        }
    }

    /// The line and column the error points at, where known (both 1-based).
    pub fn location(&self) -> (Option<usize>, Option<usize>) {
        match self {
            ScriptError::Compile { line, column, .. }
            | ScriptError::Runtime { line, column, .. }
            | ScriptError::LimitExceeded { line, column, .. } => (*line, *column),
            _ => (None, None),
        }
    }

    /// The limit the script hit, if that is what stopped it.
    pub fn limit(&self) -> Option<Limit> {
        match self {
            ScriptError::LimitExceeded { limit, .. } => Some(*limit),
            _ => None,
        }
    }

    fn limit_exceeded(script: &str, limit: Limit, limits: &Limits, pos: Position) -> Self {
        ScriptError::LimitExceeded {
            script: script.to_string(),
            limit,
            max: limit.value_in(limits),
            line: pos.line(),
            column: pos.position(),
        }
    }

    /// Translate a Rhai compile error.
    pub(crate) fn from_parse(script: &str, err: &ParseError, limits: &Limits) -> Self {
        let pos = err.position();
        let limit = match err.err_type() {
            ParseErrorType::ExprTooDeep => Some(Limit::ExpressionDepth),
            ParseErrorType::LiteralTooLarge(what, _) => data_limit(what),
            _ => None,
        };
        if let Some(limit) = limit {
            return Self::limit_exceeded(script, limit, limits, pos);
        }
        ScriptError::Compile {
            script: script.to_string(),
            line: pos.line(),
            column: pos.position(),
            message: parse_message(err.err_type()),
        }
    }

    /// Translate a Rhai runtime error.
    pub(crate) fn from_eval(script: &str, mut err: EvalAltResult, limits: &Limits) -> Self {
        // Errors raised inside script functions come wrapped once per call level; the innermost
        // one says what happened, and its position is inside the same script.
        let mut pos = err.position();
        let mut function = None;
        while let EvalAltResult::ErrorInFunctionCall(name, _, inner, _) = err {
            function = Some(name);
            err = *inner;
            if !err.position().is_none() {
                pos = err.position();
            }
        }

        let limit = match &err {
            EvalAltResult::ErrorTooManyOperations(_) => Some(Limit::Operations),
            EvalAltResult::ErrorStackOverflow(_) => Some(Limit::CallDepth),
            EvalAltResult::ErrorTooManyVariables(_) => Some(Limit::Variables),
            EvalAltResult::ErrorTooManyModules(_) => Some(Limit::Modules),
            EvalAltResult::ErrorDataTooLarge(what, _) => data_limit(what),
            EvalAltResult::ErrorTerminated(token, _)
                if token
                    .clone()
                    .into_string()
                    .is_ok_and(|t| t == DEADLINE_TOKEN) =>
            {
                Some(Limit::Time)
            }
            _ => None,
        };
        if let Some(limit) = limit {
            return Self::limit_exceeded(script, limit, limits, pos);
        }

        let message = match &err {
            EvalAltResult::ErrorParsing(parse, _) => {
                return ScriptError::Compile {
                    script: script.to_string(),
                    line: pos.line(),
                    column: pos.position(),
                    message: parse_message(parse),
                };
            }
            EvalAltResult::ErrorRuntime(value, _) if value.is_unit() => {
                "the script threw an error".to_string()
            }
            // `throw "price below cost"`: the tenant's own words.
            EvalAltResult::ErrorRuntime(value, _) => value.to_string(),
            EvalAltResult::ErrorTerminated(..) => "the script was stopped".to_string(),
            _ => {
                err.set_position(Position::NONE);
                err.to_string()
            }
        };
        let message = match function {
            Some(function) => format!("{message} (in function \"{function}\")"),
            None => message,
        };
        ScriptError::Runtime {
            script: script.to_string(),
            line: pos.line(),
            column: pos.position(),
            message,
        }
    }
}

/// Rhai names the data that grew too large; map its wording to our limit.
fn data_limit(what: &str) -> Option<Limit> {
    let what = what.to_ascii_lowercase();
    if what.contains("string") {
        Some(Limit::StringSize)
    } else if what.contains("array") || what.contains("blob") {
        Some(Limit::ArraySize)
    } else if what.contains("map") {
        Some(Limit::MapSize)
    } else {
        None
    }
}

fn parse_message(err: &ParseErrorType) -> String {
    // A disabled symbol reaches us as a reserved word or as a lexer error, depending on whether
    // Rhai treats it as a keyword.
    let forbidden = match err {
        ParseErrorType::Reserved(word) => Some(word.as_str()),
        ParseErrorType::BadInput(LexError::ImproperSymbol(word, _)) => Some(word.as_str()),
        _ => None,
    }
    .filter(|word| FORBIDDEN_SYMBOLS.contains(word));
    match forbidden {
        Some(word) => format!("\"{word}\" is not allowed in Forecourt scripts"),
        None => err.to_string(),
    }
}

/// " at line L, column C", or as much of it as is known.
struct At(Option<usize>, Option<usize>);

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(line), Some(column)) => write!(f, " at line {line}, column {column}"),
            (Some(line), None) => write!(f, " at line {line}"),
            _ => Ok(()),
        }
    }
}

/// A millisecond count, written the way people read it.
struct Millis(u64);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = Duration::from_millis(self.0);
        if self.0 < 1_000 || self.0 % 1_000 != 0 {
            write!(f, "{} ms", self.0)
        } else {
            write!(f, "{} s", d.as_secs())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limit_message_reads_well() {
        let err = ScriptError::LimitExceeded {
            script: "pricing/adjust.rhai".into(),
            limit: Limit::Time,
            max: 50,
            line: Some(3),
            column: Some(5),
        };
        assert_eq!(
            err.to_string(),
            "script \"pricing/adjust.rhai\" stopped at line 3, column 5: \
             it ran for more than 50 ms (time limit)"
        );
    }

    #[test]
    fn messages_without_position_leave_it_out() {
        let err = ScriptError::Runtime {
            script: "a.rhai".into(),
            line: None,
            column: None,
            message: "boom".into(),
        };
        assert_eq!(err.to_string(), "script \"a.rhai\" failed: boom");
        assert_eq!(err.location(), (None, None));
        assert_eq!(err.script(), "a.rhai");
    }

    #[test]
    fn every_limit_has_a_value_and_a_name() {
        let limits = Limits::default();
        assert_eq!(Limit::Time.value_in(&limits), 50);
        assert_eq!(Limit::StringSize.value_in(&limits), 65_536);
        assert_eq!(Limit::Operations.value_in(&limits), 1_000_000);
        assert_eq!(Limit::CallDepth.to_string(), "call depth limit");
        assert_eq!(Millis(2_000).to_string(), "2 s");
        assert_eq!(Millis(1_500).to_string(), "1500 ms");
    }
}
