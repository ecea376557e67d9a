; Chunk definitions for Objective-C, after c.scm's functions and types. @interface, @implementation
; (categories too, named by their class) and @protocol are class-like; a method is named by the
; first part of its selector, so `-initWithName:` in `@implementation Playlist` is `Playlist.initWithName`.
(class_interface . (identifier) @name) @definition.interface
(class_implementation . (identifier) @name) @definition.class
(protocol_declaration . (identifier) @name) @definition.protocol

(method_definition . (method_type) . (identifier) @name (compound_statement) @body) @definition.method
(method_definition . (identifier) @name (compound_statement) @body) @definition.method
