; Chunk definitions for Elixir. Modules, protocols and implementations are class-like and
; nest as Elixir names them: `defmodule Inner` in `MyApp.Repo` is `MyApp.Repo.Inner`. The heads
; of a multi-clause function are clauses of one definition; `@doc`, `@spec`, `@impl` and
; `@deprecated` lead the function after them.
(call
  target: (identifier) @_keyword
  (#any-of? @_keyword "defmodule" "defprotocol")
  (arguments . (alias) @name)
  (do_block) @body) @definition.module

; `defimpl Size, for: Map` defines the module `Size.Map`.
(call
  target: (identifier) @_keyword
  (#eq? @_keyword "defimpl")
  (arguments
    .
    (alias) @scope
    (keywords (pair key: (keyword) @_for value: (alias) @name) (#match? @_for "^for:")))
  (do_block) @body) @definition.module

(call
  target: (identifier) @_keyword
  (#any-of? @_keyword "def" "defp" "defmacro" "defmacrop" "defguard" "defguardp" "defdelegate" "defn" "defnp")
  (arguments
    .
    [
      (call target: (identifier) @name)
      (binary_operator left: (call target: (identifier) @name))
      (identifier) @name
    ])
  (do_block)? @body) @definition.clause

(unary_operator
  operator: "@"
  operand: (call target: (identifier) @_attribute)
  (#any-of? @_attribute "doc" "spec" "impl" "deprecated")) @leading
