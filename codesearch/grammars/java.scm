; Chunk definitions for Java.
(class_declaration name: (identifier) @name body: (_) @body) @definition.class
(interface_declaration name: (identifier) @name body: (_) @body) @definition.interface
(enum_declaration name: (identifier) @name body: (_) @body) @definition.enum
(record_declaration name: (identifier) @name body: (_) @body) @definition.class
(annotation_type_declaration name: (identifier) @name body: (_) @body) @definition.interface

(method_declaration name: (identifier) @name body: (block) @body) @definition.function
(constructor_declaration name: (identifier) @name body: (constructor_body) @body) @definition.function
