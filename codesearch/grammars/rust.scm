; Chunk definitions for Rust. An impl block is class-like and named after its type.
(function_item name: (identifier) @name body: (block) @body) @definition.function

(struct_item name: (type_identifier) @name body: (_) @body) @definition.struct
(enum_item name: (type_identifier) @name body: (_) @body) @definition.enum
(union_item name: (type_identifier) @name body: (_) @body) @definition.struct
(trait_item name: (type_identifier) @name body: (_) @body) @definition.trait

(impl_item
  type: [
    (type_identifier) @name
    (generic_type type: (type_identifier) @name)
    (scoped_type_identifier name: (type_identifier) @name)
    (generic_type type: (scoped_type_identifier name: (type_identifier) @name))
  ]
  body: (declaration_list) @body) @definition.impl

; `macro_rules! name { ... }`: the macro, its doc comment above it.
(macro_definition name: (identifier) @name) @definition.function
