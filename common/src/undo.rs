//! A LIFO of cleanup actions for the error path.
//!
//! Push the undo of each step right after the step succeeds; on success call
//! [`Undo::disarm`]; on failure call [`Undo::rollback`] (or just drop the stack), which
//! runs every action in reverse and keeps going past failures.

use std::fmt;

type Action = Box<dyn FnOnce() -> Result<(), String>>;

#[derive(Default)]
pub struct Undo {
    actions: Vec<(String, Action)>,
}

impl fmt::Debug for Undo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.actions.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Undo").field("actions", &names).finish()
    }
}

impl Undo {
    pub fn new() -> Undo {
        Undo::default()
    }

    /// Remember how to undo a step; `what` names it in error messages ("unmount /x").
    pub fn push<F, E>(&mut self, what: impl Into<String>, f: F)
    where
        F: FnOnce() -> Result<(), E> + 'static,
        E: fmt::Display,
    {
        self.actions.push((
            what.into(),
            Box::new(move || f().map_err(|e| e.to_string())),
        ));
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Success: forget every action without running it.
    pub fn disarm(mut self) {
        self.actions.clear();
    }

    /// Failure: run every action, newest first. Returns one message per failed action.
    pub fn rollback(mut self) -> Vec<String> {
        self.run_all()
    }

    fn run_all(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        while let Some((what, action)) = self.actions.pop() {
            if let Err(e) = action() {
                errors.push(format!("cannot {what}: {e}"));
            }
        }
        errors
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        for e in self.run_all() {
            eprintln!("{}: error: cleanup: {e}", crate::run::tool_name());
        }
    }
}

/// Append cleanup failures to a primary error message: "…; cleanup also failed: …".
pub fn with_cleanup_errors(primary: impl Into<String>, errors: &[String]) -> String {
    let primary = primary.into();
    if errors.is_empty() {
        primary
    } else {
        format!("{primary}; cleanup also failed: {}", errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[test]
    fn rollback_runs_in_reverse_and_continues_past_failures() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut u = Undo::new();
        for i in 0..3 {
            let log = log.clone();
            u.push(format!("step {i}"), move || {
                log.borrow_mut().push(i);
                if i == 1 { Err("boom") } else { Ok(()) }
            });
        }
        let errs = u.rollback();
        assert_eq!(*log.borrow(), vec![2, 1, 0]);
        assert_eq!(errs, vec!["cannot step 1: boom".to_string()]);
        assert_eq!(
            with_cleanup_errors("mount failed", &errs),
            "mount failed; cleanup also failed: cannot step 1: boom"
        );
    }

    #[test]
    fn disarm_runs_nothing() {
        let ran = Rc::new(RefCell::new(false));
        let mut u = Undo::new();
        let r = ran.clone();
        u.push("x", move || {
            *r.borrow_mut() = true;
            Ok::<(), String>(())
        });
        u.disarm();
        assert!(!*ran.borrow());
    }

    #[test]
    fn drop_rolls_back() {
        let ran = Rc::new(RefCell::new(false));
        {
            let mut u = Undo::new();
            let r = ran.clone();
            u.push("x", move || {
                *r.borrow_mut() = true;
                Ok::<(), String>(())
            });
        }
        assert!(*ran.borrow());
    }
}
