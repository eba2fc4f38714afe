/* The include path (Package.swift) is the repository root. */
    .section .rodata
    .balign 16
owdm_service_start:
    .incbin "model/opsworks/2013-02-18/service-2.json"
owdm_service_end:
    .balign 16
owdm_waiters_start:
    .incbin "model/opsworks/2013-02-18/waiters-2.json"
owdm_waiters_end:
    .balign 16
owdm_paginators_start:
    .incbin "model/opsworks/2013-02-18/paginators-1.json"
owdm_paginators_end:
    .balign 16
owdm_extras_start:
    .incbin "bindings/python/opsworks_deployments/data/opsworks/2013-02-18/service-2.sdk-extras.json"
owdm_extras_end:

    .section .data.rel.ro
    .balign 8
    .globl owdm_table
owdm_table:
    .quad owdm_service_start, owdm_service_end
    .quad owdm_waiters_start, owdm_waiters_end
    .quad owdm_paginators_start, owdm_paginators_end
    .quad owdm_extras_start, owdm_extras_end

    .section .note.GNU-stack,"",@progbits
