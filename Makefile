# make setup: install what is missing (Debian packages for the extractors, .venv, firmproof in it,
#             AOSP's lpmake/lpunpack built from Debian's sources into .venv/aosp/bin)
# make demo [IMAGE=path]: set up, then scan IMAGE (default: a demo image built from real Debian binaries)
# make test: set up, then run the whole test suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
IMAGE ?=
# Debian packages: command they provide (checked first, so a set-up machine installs nothing)
APT_PACKAGES := squashfs-tools:mksquashfs mtd-utils:mkfs.jffs2 e2fsprogs:debugfs cpio:cpio \
	lz4:lz4 zstd:zstd p7zip-full:7z android-sdk-libsparse-utils:simg2img erofs-utils:fsck.erofs \
	u-boot-tools:mkimage lziprecover:lziprecover lzop:lzop unar:unar partclone:partclone.restore \
	xz-utils:xz util-linux:mkfs.cramfs libmagic1:/usr/share/misc/magic.mgc \
	openssh-client:ssh-keygen openssl:openssl gcc:gcc debootstrap:debootstrap busybox-static:busybox \
	file:/usr/bin/file liblzo2-dev:/usr/include/lzo/lzo1x.h \
	dropbear-bin:dropbearkey putty-tools:puttygen libc6-dev:/usr/include/stdio.h \
	gcc-mipsel-linux-gnu:mipsel-linux-gnu-gcc gcc-mips-linux-gnu:mips-linux-gnu-gcc \
	gcc-arm-linux-gnueabi:arm-linux-gnueabi-gcc gcc-aarch64-linux-gnu:aarch64-linux-gnu-gcc \
	mkbootimg:mkbootimg aapt:aapt zipalign:zipalign apksigner:apksigner libsmali-java:/usr/share/java/smali.jar \
	g++:g++ zlib1g-dev:/usr/include/zlib.h android-libbase-dev:/usr/include/android/android-base/file.h \
	android-liblog-dev:/usr/include/android/log/log.h android-libsparse-dev:/usr/include/android/sparse/sparse.h \
	android-libboringssl-dev:/usr/include/android/openssl/sha.h \
	android-libext4-utils-dev:/usr/include/android/ext4_utils/ext4_utils.h apache2-utils:htpasswd openjdk-17-jre-headless:keytool \
	android-framework-res:/usr/share/android-framework-res/framework-res.apk \
	chromium:/usr/bin/chromium

.PHONY: setup apt venv lptools demo test lint bench clean
setup: apt venv lptools

apt:
	@missing=""; for pair in $(APT_PACKAGES); do pkg=$${pair%%:*}; cmd=$${pair#*:}; \
	  if [[ "$$cmd" == /* ]]; then [ -e "$$cmd" ] || missing="$$missing $$pkg"; \
	  else command -v "$$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$$cmd" ] || [ -x "/sbin/$$cmd" ] || missing="$$missing $$pkg"; fi; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip >/dev/null
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

venv: $(VENV)/.installed

# super.img tools: Debian packages liblp's sources but not the tools (tools/build-lptools.sh)
# (their own folder: the liblp package installs a Python script named lpunpack in .venv/bin)
# a failed build does not stop set-up (scans do not need them); the tests that do say so
$(VENV)/aosp/bin/lpmake: tools/build-lptools.sh | apt venv
	@tools/build-lptools.sh $(VENV)/aosp/bin || echo "warning: lpmake/lpunpack not built; the super.img tests will fail" >&2

lptools: $(VENV)/aosp/bin/lpmake

demo: setup
	@if [ -n "$(IMAGE)" ]; then img="$(IMAGE)"; else \
	  img=build/demo/demo-router.bin; PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m firmproof.demo "$$img"; fi; \
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/firmproof scan "$$img" -o build/demo/report.json; rc=$$?; \
	echo "report written to build/demo/report.json"; [ $$rc -le 1 ]

test: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest -n 2 -q

lint: setup
	$(VENV)/bin/ruff check firmproof tests bench
	$(VENV)/bin/mypy firmproof

bench: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) bench/run.py

clean:
	rm -rf build .pytest_cache
