/* Decoy: a UDP configuration receiver. Each packet is de-obfuscated with a fixed XOR key (the
 * compiler XORs the buffer with the key's words, the same instructions as an inlined compare,
 * but nothing tests the result), saved, and then a fixed reload command runs for every packet:
 * no magic value gates it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char key[16] = "Kq7vR2xWm9PzT4bY";

int main(void)
{
    unsigned char packet[512];
    struct sockaddr_in addr;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(7330);
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0)
        return 1;
    for (;;) {
        ssize_t n = recv(s, packet, sizeof packet, 0);
        FILE *f;
        int i;
        if (n < (ssize_t)sizeof key)
            continue;
        for (i = 0; i < (int)sizeof key; i++)
            packet[i] ^= (unsigned char)key[i];
        f = fopen("/tmp/udp.conf", "w");
        if (f == NULL)
            continue;
        fwrite(packet, 1, (size_t)n, f);
        fclose(f);
        system("/etc/init.d/config reload");
    }
}
