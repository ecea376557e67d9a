; Chunk definitions for Makefiles: a rule with a recipe is a function named by its targets, and
; so is a `define` block. Rules without a recipe (`.PHONY: ...`, `all: build test`) are one-line
; dependency declarations and stay with the variables around them as module code.
(rule (targets) @name (recipe) @body) @definition.function
(define_directive name: (word) @name value: (_) @body) @definition.function
