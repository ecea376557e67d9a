; Chunk definitions for Kotlin. Objects and named companion objects are class-like; an unnamed
; companion is not a definition, so its members read as the class's own (`Table.create`).
; An extension function's receiver type is its @scope (`fun String.slug()` is `String.slug`),
; unless it is a type parameter (`fun <T : Table> T.insert()`), by convention one capital.
(class_declaration name: (identifier) @name [(class_body) (enum_class_body)]? @body) @definition.class
(object_declaration name: (identifier) @name (class_body)? @body) @definition.object
(companion_object name: (identifier) @name (class_body)? @body) @definition.object

(function_declaration name: (identifier) @name (function_body) @body) @definition.function
(secondary_constructor "constructor" @name (block) @body) @definition.function
(function_declaration
  [
    (user_type . (identifier) @scope)
    (nullable_type (user_type . (identifier) @scope))
  ]
  .
  name: (identifier) @name
  (function_body) @body
  (#not-match? @scope "^[A-Z]$")) @definition.function
