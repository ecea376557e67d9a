; Chunk definitions for Swift. `class_declaration` holds classes, structs, enums, actors and
; extensions: an extension is named after the type it extends, so its methods are `Type.m`.
(class_declaration name: [(type_identifier) (user_type)] @name body: (_) @body) @definition.class
(protocol_declaration name: (type_identifier) @name body: (protocol_body) @body) @definition.interface

(function_declaration name: (simple_identifier) @name body: (function_body) @body) @definition.function
(init_declaration "init" @name body: (function_body) @body) @definition.function
(deinit_declaration "deinit" @name body: (function_body) @body) @definition.function
