; Chunk definitions for Nix: a binding whose value is a function, an attribute set of two or more
; entries, a call with such a set or with a function (`mkDerivation { ... }`,
; `withPackages (ps: ...)`) or a multi-line string. The outermost one takes in the bindings
; inside it; one-line bindings (`version = "1.0";`, `hello = callPackage ./hello { };`) stay
; module code with their neighbours.
(binding
  attrpath: (attrpath) @name
  expression: [
    (function_expression) @body
    (attrset_expression (binding_set . (_) . (_))) @body
    (rec_attrset_expression (binding_set . (_) . (_))) @body
    (apply_expression
      argument: [
        (attrset_expression (binding_set . (_) . (_)))
        (rec_attrset_expression (binding_set . (_) . (_)))
        (parenthesized_expression (function_expression))
      ]) @body
    (indented_string_expression) @body
  ]) @definition.function
