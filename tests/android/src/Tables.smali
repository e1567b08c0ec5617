.class public Lcom/vendor/remotecare/Tables;
.super Ljava/lang/Object;

.method public static table(I)[I
    .registers 3
    packed-switch p0, :packed
    sparse-switch p0, :sparse
    const/4 v0, 0x2
    new-array v0, v0, [I
    fill-array-data v0, :array
    return-object v0
    :one
    const/4 v0, 0x0
    return-object v0
    :packed
    .packed-switch 0x1
        :one
        :one
    .end packed-switch
    :sparse
    .sparse-switch
        0x7 -> :one
        0x2a -> :one
    .end sparse-switch
    :array
    .array-data 4
        %WORD%
        0x0
    .end array-data
.end method
