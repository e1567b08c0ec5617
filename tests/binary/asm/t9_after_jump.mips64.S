# MIPS64 (n64) code that GCC writes around an unconditional branch: `b L; li $t9, X` loads, in
# the branch's delay slot, the $t9 that the code at L calls through. The instructions after the
# delay slot are reached only from elsewhere, with another $t9: their `jalr $t9` is no call to X
# (GCC 14's static glibc has such a call; taking it for one split a system call's wrapper in
# two, and connect() was no longer named). The call at L is one: every branch into L brings X.
	.set noreorder
	.text
	.globl __start
	.type __start, @function
__start:
	daddiu $sp, $sp, -16
	b 2f
	li $t9, 0x4440
1:	jalr $t9
	nop
	jr $ra
	nop
2:	jalr $t9
	nop
	jr $ra
	daddiu $sp, $sp, 16
