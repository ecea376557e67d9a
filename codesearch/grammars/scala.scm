; Chunk definitions for Scala 2 and 3. A Scala 3 extension block is class-like, named after the
; type it extends, so its methods are `Type.m`; an anonymous given is named after its type.
(class_definition name: (identifier) @name body: (_)? @body) @definition.class
(object_definition name: (identifier) @name body: (_)? @body) @definition.object
(package_object name: (identifier) @name body: (_)? @body) @definition.object
(trait_definition name: (identifier) @name body: (_)? @body) @definition.trait
(enum_definition name: (identifier) @name body: (_) @body) @definition.enum
(given_definition name: (identifier) @name body: (_) @body) @definition.given
(given_definition
  !name
  return_type: [(type_identifier) @name (generic_type type: (type_identifier) @name)]
  body: (_) @body) @definition.given
(extension_definition
  parameters: (parameters
    (parameter type: [(type_identifier) @name (generic_type type: (type_identifier) @name)]))
  body: (_) @body) @definition.extension

(function_definition name: (identifier) @name body: (_) @body) @definition.function
