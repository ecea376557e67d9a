; Chunk definitions for Starlark (Bazel, Buck, Tilt). A rule call statement is named by its
; `name = "..."` argument, and a rule, macro, provider or aspect by the variable it is assigned
; to; inside a `def` both are part of the function. No pattern is anchored at `module`: the
; chunker queries each stretch between functions, and a root-anchored pattern made that quadratic.
(function_definition name: (identifier) @name body: (block) @body) @definition.function

((expression_statement
  (call
    arguments: (argument_list
      (keyword_argument name: (identifier) @_key value: (string (string_content) @name))) @body)) @definition.function
  (#eq? @_key "name"))

((expression_statement
  (assignment
    left: (identifier) @name
    right: (call function: (identifier) @_factory arguments: (argument_list) @body))) @definition.function
  (#any-of? @_factory "rule" "macro" "provider" "aspect" "repository_rule" "module_extension" "tag_class"))
