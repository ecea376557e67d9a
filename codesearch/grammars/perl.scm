; Chunk definitions for Perl. A block `package Foo { ... }` and a `class` are class-like; the
; statement form `package Foo;` scopes nothing here. `sub Pkg::name` is named `Pkg.name`. POD
; right above a sub documents it.
(subroutine_declaration_statement name: (_) @name body: (block) @body) @definition.function
(method_declaration_statement name: (_) @name body: (block) @body) @definition.method
(package_statement name: (package) @name (block) @body) @definition.package
(class_statement name: (package) @name (block) @body) @definition.class

(pod) @leading
