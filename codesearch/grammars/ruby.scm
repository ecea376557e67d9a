; Chunk definitions for Ruby. Modules are class-like, so `module M; class C; def m` is `M.C.m`.
(class name: (_) @name body: (body_statement) @body) @definition.class
(module name: (_) @name body: (body_statement) @body) @definition.module
(method name: (_) @name body: (_) @body) @definition.function
(singleton_method name: (_) @name body: (_) @body) @definition.function
