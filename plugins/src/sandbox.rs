//! The Rhai sandbox: the limits a tenant script runs under and the one builder of hardened engines.
//!
//! [`hardened_engine`] starts from [`Engine::new_raw`] (no packages, no module resolver, no
//! printing) and adds back only what business rules need: arithmetic, logic, strings, arrays,
//! maps, maths, ranges and function pointers. Left out on purpose: `eval` (disabled as a symbol),
//! `import` (disabled as a symbol, no module resolver, module limit 0), `sleep`, `exit` and
//! reflection (the `LanguageCorePackage` is not loaded), time, BLOBs, and `print`/`debug` output
//! (routed to nothing).
//!
//! Wall-clock time is enforced through [`Engine::on_progress`], which Rhai calls on every
//! operation. The deadline lives in a thread-local: a run always executes on the thread that
//! started it, so one `Send + Sync` engine can serve many threads at once, each call with its own
//! deadline. The runtime arms the deadline for each call with a `RunDeadline` guard; a script run
//! on a hardened engine without one (say, directly through `Engine::eval`) still gets a deadline,
//! armed at its first operation.

use std::cell::Cell;
use std::time::{Duration, Instant};

use rhai::module_resolvers::DummyModuleResolver;
use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicFnPackage, BasicIteratorPackage, BasicMapPackage,
    BasicMathPackage, BasicStringPackage, LogicPackage, MoreStringPackage, Package,
};
use rhai::{Dynamic, Engine};

/// The termination token the progress callback returns when a run passes its deadline.
pub(crate) const DEADLINE_TOKEN: &str = "forecourt.sandbox.deadline";

/// The wall clock is read once every this many operations (a power of two). Reading it costs
/// about as much as a few operations, so checking every time would slow every script down.
const CLOCK_CHECK_EVERY: u64 = 32;

/// Symbols a tenant script may not use at all; using one is a compile error.
pub(crate) const FORBIDDEN_SYMBOLS: [&str; 2] = ["eval", "import"];

/// The limits every script runs under. The defaults suit a hook on a request path.
///
/// A zero in a size or depth limit means *unlimited* in Rhai's terms (except `max_modules`,
/// `max_variables` and `max_call_levels`, where zero forbids), so keep them non-zero.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Operations one call may perform (roughly: statements, expressions and function calls).
    pub max_operations: u64,
    /// Depth of nested function calls (stops runaway recursion).
    pub max_call_levels: usize,
    /// Nesting depth of expressions at the top level of a script (checked when compiling).
    pub max_expr_depth: usize,
    /// Nesting depth of expressions inside functions (checked when compiling).
    pub max_function_expr_depth: usize,
    /// Bytes in one string, and in all the strings inside one array or map.
    pub max_string_size: usize,
    /// Items in one array, counting nested arrays.
    pub max_array_size: usize,
    /// Entries in one object map, counting nested maps.
    pub max_map_size: usize,
    /// Variables alive at any one time.
    pub max_variables: usize,
    /// Modules a script may import (scripts may not import anything).
    pub max_modules: usize,
    /// Wall-clock time one call may take.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_operations: 1_000_000,
            max_call_levels: 32,
            max_expr_depth: 64,
            max_function_expr_depth: 32,
            max_string_size: 64 * 1024,
            max_array_size: 10_000,
            max_map_size: 10_000,
            max_variables: 256,
            max_modules: 0,
            timeout: Duration::from_millis(50),
        }
    }
}

/// Build a Rhai engine that is safe to run tenant scripts on.
///
/// This is the only way Forecourt makes an [`Engine`]. The engine is `Send + Sync` and meant to
/// be shared: build one per set of limits, not one per call.
pub fn hardened_engine(limits: &Limits) -> Engine {
    let mut engine = Engine::new_raw();

    // Only the safe standard packages. `LanguageCorePackage` is left out: it brings `sleep`
    // (which blocks a worker without counting operations), `exit` and reflection.
    ArithmeticPackage::new().register_into_engine(&mut engine);
    LogicPackage::new().register_into_engine(&mut engine);
    BasicStringPackage::new().register_into_engine(&mut engine);
    MoreStringPackage::new().register_into_engine(&mut engine);
    BasicIteratorPackage::new().register_into_engine(&mut engine);
    BasicFnPackage::new().register_into_engine(&mut engine);
    BasicArrayPackage::new().register_into_engine(&mut engine);
    BasicMapPackage::new().register_into_engine(&mut engine);
    BasicMathPackage::new().register_into_engine(&mut engine);

    for symbol in FORBIDDEN_SYMBOLS {
        engine.disable_symbol(symbol);
    }
    engine.set_module_resolver(DummyModuleResolver::new());

    // `print` and `debug` must not reach the server's stdout.
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});

    engine.set_strict_variables(true);

    engine.set_max_operations(limits.max_operations);
    engine.set_max_call_levels(limits.max_call_levels);
    engine.set_max_expr_depths(limits.max_expr_depth, limits.max_function_expr_depth);
    engine.set_max_string_size(limits.max_string_size);
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_map_size);
    engine.set_max_variables(limits.max_variables);
    engine.set_max_modules(limits.max_modules);

    let timeout = limits.timeout;
    engine.on_progress(move |operations| deadline_passed(operations, timeout));

    engine
}

thread_local! {
    /// The deadline of the run in progress on this thread, armed by [`RunDeadline::arm`].
    static RUN_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// The deadline of a run started without [`RunDeadline`], armed at its first operation.
    static FALLBACK_DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The progress callback: `Some(token)` stops the script.
fn deadline_passed(operations: u64, timeout: Duration) -> Option<Dynamic> {
    let armed = RUN_DEADLINE.with(Cell::get);

    // Rhai counts operations from 1 for every evaluation, so operation 1 means a new run.
    if operations == 1 && armed.is_none() {
        FALLBACK_DEADLINE.with(|cell| cell.set(Instant::now().checked_add(timeout)));
    }
    if operations % CLOCK_CHECK_EVERY != 0 {
        return None;
    }

    let deadline = armed.or_else(|| FALLBACK_DEADLINE.with(Cell::get))?;
    if Instant::now() >= deadline {
        Some(Dynamic::from(DEADLINE_TOKEN))
    } else {
        None
    }
}

/// Arms the wall-clock deadline for the calls made on this thread while it is alive.
///
/// Guards nest: an inner guard never extends an outer deadline, and dropping it restores the
/// outer one.
#[must_use = "the deadline is disarmed when the guard is dropped"]
pub(crate) struct RunDeadline {
    previous: Option<Instant>,
}

impl RunDeadline {
    /// Arm a deadline `timeout` from now.
    pub(crate) fn arm(timeout: Duration) -> Self {
        let now = Instant::now();
        // An absurdly long timeout that overflows `Instant` means "no earlier than ever".
        let mine = now.checked_add(timeout);
        let previous = RUN_DEADLINE.with(Cell::get);
        let effective = match (previous, mine) {
            (Some(outer), Some(inner)) => Some(outer.min(inner)),
            (Some(outer), None) => Some(outer),
            (None, Some(inner)) => Some(inner),
            // Keep a deadline armed so the fallback does not take over; it is far away.
            (None, None) => Some(now + Duration::from_secs(365 * 24 * 3600)),
        };
        RUN_DEADLINE.with(|cell| cell.set(effective));
        Self { previous }
    }
}

impl Drop for RunDeadline {
    fn drop(&mut self) {
        RUN_DEADLINE.with(|cell| cell.set(self.previous));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhai::EvalAltResult;

    fn engine() -> Engine {
        hardened_engine(&Limits::default())
    }

    fn eval_err(engine: &Engine, script: &str) -> EvalAltResult {
        *engine
            .eval::<Dynamic>(script)
            .expect_err("the script should have been stopped")
    }

    #[test]
    fn ordinary_script_runs() {
        let engine = engine();
        let total: i64 = engine
            .eval("let xs = [1, 2, 3]; let t = 0; for x in xs { t += x * 100; } t")
            .unwrap();
        assert_eq!(total, 600);
        let text: String = engine
            .eval(r#"let s = "car"; s.to_upper() + "-" + 3"#)
            .unwrap();
        assert_eq!(text, "CAR-3");
        let m: i64 = engine
            .eval("let m = #{a: 1, b: 2}; m.keys().len() + m.b")
            .unwrap();
        assert_eq!(m, 4);
    }

    #[test]
    fn integers_are_64_bit() {
        let big: i64 = engine().eval("9_000_000_000 * 1000").unwrap();
        assert_eq!(big, 9_000_000_000_000);
    }

    #[test]
    fn endless_loop_is_stopped_by_the_operation_limit() {
        // A clock generous enough that the operation count stops it, even on a loaded machine.
        let engine = hardened_engine(&Limits {
            timeout: Duration::from_secs(30),
            ..Limits::default()
        });
        let started = Instant::now();
        let err = eval_err(&engine, "loop {}");
        assert!(
            matches!(err, EvalAltResult::ErrorTooManyOperations(_)),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn endless_loop_is_stopped_by_the_deadline_without_a_runtime() {
        let limits = Limits {
            max_operations: 0, // unlimited: only the clock can stop it
            timeout: Duration::from_millis(20),
            ..Limits::default()
        };
        let engine = hardened_engine(&limits);
        let started = Instant::now();
        let err = eval_err(&engine, "let x = 0; loop { x += 1; }");
        assert!(
            matches!(&err, EvalAltResult::ErrorTerminated(token, _)
                if token.clone().into_string().unwrap() == DEADLINE_TOKEN),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_millis(500));

        // The fallback deadline is re-armed for the next run: a short script still succeeds.
        let two: i64 = engine.eval("let y = 1; y + 1").unwrap();
        assert_eq!(two, 2);
    }

    #[test]
    fn armed_deadline_is_per_guard_and_restored() {
        let limits = Limits {
            max_operations: 0,
            timeout: Duration::from_secs(60),
            ..Limits::default()
        };
        let engine = hardened_engine(&limits);
        {
            let _outer = RunDeadline::arm(Duration::from_millis(20));
            {
                // An inner guard cannot extend the outer deadline.
                let _inner = RunDeadline::arm(Duration::from_secs(60));
                let started = Instant::now();
                let err = eval_err(&engine, "loop {}");
                assert!(matches!(err, EvalAltResult::ErrorTerminated(..)), "{err}");
                assert!(started.elapsed() < Duration::from_millis(500));
            }
        }
        assert_eq!(RUN_DEADLINE.with(Cell::get), None);
    }

    #[test]
    fn forbidden_symbols_do_not_compile() {
        let engine = engine();
        for script in [
            r#"eval("1")"#,
            r#"let f = "1"; f.eval()"#,
            r#"import "x" as y; 1"#,
        ] {
            assert!(engine.compile(script).is_err(), "{script} compiled");
        }
    }

    #[test]
    fn eval_is_unreachable_through_function_pointers() {
        let engine = engine();
        for script in [
            r#"let f = Fn("eval"); f.call("1")"#,
            r#"call(Fn("ev" + "al"), "1")"#,
        ] {
            assert!(engine.eval::<Dynamic>(script).is_err(), "{script} ran");
        }
    }

    #[test]
    fn blocking_and_exiting_functions_are_absent() {
        let engine = engine();
        for script in ["sleep(10)", "exit(1)", "timestamp()"] {
            let err = eval_err(&engine, script);
            assert!(
                matches!(err, EvalAltResult::ErrorFunctionNotFound(..)),
                "{script}: {err}"
            );
        }
    }

    #[test]
    fn print_and_debug_are_silent_and_harmless() {
        let v: i64 = engine().eval(r#"print("hello"); debug("x"); 7"#).unwrap();
        assert_eq!(v, 7);
    }

    #[test]
    fn strict_variables_reject_undeclared_names_at_compile_time() {
        assert!(engine().compile("let a = 1; a + b").is_err());
    }

    #[test]
    fn default_limits_are_the_agreed_ones() {
        let l = Limits::default();
        assert_eq!(l.max_operations, 1_000_000);
        assert_eq!(l.max_call_levels, 32);
        assert_eq!(l.max_expr_depth, 64);
        assert_eq!(l.max_function_expr_depth, 32);
        assert_eq!(l.max_string_size, 65_536);
        assert_eq!(l.max_array_size, 10_000);
        assert_eq!(l.max_map_size, 10_000);
        assert_eq!(l.max_variables, 256);
        assert_eq!(l.max_modules, 0);
        assert_eq!(l.timeout, Duration::from_millis(50));

        let engine = engine();
        assert_eq!(engine.max_operations(), 1_000_000);
        assert_eq!(engine.max_call_levels(), 32);
        assert_eq!(engine.max_string_size(), 65_536);
        assert_eq!(engine.max_modules(), 0);
        assert!(engine.strict_variables());
    }
}
