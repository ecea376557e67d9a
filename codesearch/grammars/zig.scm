; Chunk definitions for Zig. A container bound to a name (`const Foo = struct { ... }`) is
; class-like, its functions `Foo.m`; so is a function returning a type, Zig's generic container
; (`fn List(comptime T: type) type { return struct { ... }; }`): its struct's functions are `List.m`.
; Test blocks stay module code: a test named by a sentence would pass for the code it tests.
(variable_declaration
  (identifier) @name
  [(struct_declaration) (enum_declaration) (union_declaration) (opaque_declaration)]) @definition.struct

(function_declaration
  name: (identifier) @name
  type: (_) @_returns
  body: (block) @body
  (#not-eq? @_returns "type")) @definition.function
(function_declaration
  name: (identifier) @name
  type: (builtin_type) @_returns
  body: (block) @body
  (#eq? @_returns "type")) @definition.type
