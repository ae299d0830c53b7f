"""S3 errors: one class per AWS error code, each with its HTTP status.

Handlers raise these; the gateway's error middleware renders them as the AWS error document
``<Error><Code/><Message/><Resource/><RequestId/></Error>``. The codes and statuses are the ones
AWS documents in "Error responses" of the S3 API reference, so SDK retry and error logic behave
exactly as they do against AWS.
"""

from __future__ import annotations

from typing import ClassVar


class S3Error(Exception):
    """Base of every error the S3 API returns to a client."""

    code: ClassVar[str] = "InternalError"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "We encountered an internal error. Please try again."

    def __init__(self, message: str | None = None, **extra: str) -> None:
        self.message = message or self.default_message
        # Extra elements AWS adds to some errors (BucketName, Key, ArgumentName, ...).
        self.extra = extra
        # Response headers some errors carry (x-amz-delete-marker on a deleted key, ...).
        self.headers: dict[str, str] = {}
        super().__init__(f"{self.code}: {self.message}")


class InternalError(S3Error):
    pass


class AccessDenied(S3Error):
    code = "AccessDenied"
    status = 403
    default_message = "Access Denied"


class BadDigest(S3Error):
    code = "BadDigest"
    status = 400
    default_message = "The Content-MD5 you specified did not match what we received."


class BucketAlreadyExists(S3Error):
    code = "BucketAlreadyExists"
    status = 409
    default_message = (
        "The requested bucket name is not available. The bucket namespace is shared by all users"
        " of the system. Please select a different name and try again."
    )


class BucketAlreadyOwnedByYou(S3Error):
    code = "BucketAlreadyOwnedByYou"
    status = 409
    default_message = (
        "Your previous request to create the named bucket succeeded and you already own it."
    )


class BucketNotEmpty(S3Error):
    code = "BucketNotEmpty"
    status = 409
    default_message = "The bucket you tried to delete is not empty"


class EntityTooLarge(S3Error):
    code = "EntityTooLarge"
    status = 400
    default_message = "Your proposed upload exceeds the maximum allowed size"


class EntityTooSmall(S3Error):
    code = "EntityTooSmall"
    status = 400
    default_message = "Your proposed upload is smaller than the minimum allowed object size."


class IncompleteBody(S3Error):
    code = "IncompleteBody"
    status = 400
    default_message = "You did not provide the number of bytes specified by the Content-Length"


class InvalidAccessKeyId(S3Error):
    code = "InvalidAccessKeyId"
    status = 403
    default_message = "The AWS Access Key Id you provided does not exist in our records."


class InvalidArgument(S3Error):
    code = "InvalidArgument"
    status = 400
    default_message = "Invalid Argument"


class InvalidBucketName(S3Error):
    code = "InvalidBucketName"
    status = 400
    default_message = "The specified bucket is not valid."


class InvalidDigest(S3Error):
    code = "InvalidDigest"
    status = 400
    default_message = "The Content-MD5 you specified is not valid."


class InvalidPart(S3Error):
    code = "InvalidPart"
    status = 400
    default_message = (
        "One or more of the specified parts could not be found. The part may not have been"
        " uploaded, or the specified entity tag may not match the part's entity tag."
    )


class InvalidPartOrder(S3Error):
    code = "InvalidPartOrder"
    status = 400
    default_message = (
        "The list of parts was not in ascending order. Parts must be ordered by part number."
    )


class InvalidRange(S3Error):
    code = "InvalidRange"
    status = 416
    default_message = "The requested range is not satisfiable"


class InvalidRequest(S3Error):
    code = "InvalidRequest"
    status = 400
    default_message = "Invalid Request"


class InvalidTag(S3Error):
    code = "InvalidTag"
    status = 400
    default_message = "The tag provided was not a valid tag."


class KeyTooLongError(S3Error):
    code = "KeyTooLongError"
    status = 400
    default_message = "Your key is too long"


class MalformedXML(S3Error):
    code = "MalformedXML"
    status = 400
    default_message = (
        "The XML you provided was not well-formed or did not validate against our published schema"
    )


class MalformedPolicy(S3Error):
    code = "MalformedPolicy"
    status = 400
    default_message = "Policies must be valid JSON and the first byte must be '{'"


class MaxMessageLengthExceeded(S3Error):
    code = "MaxMessageLengthExceeded"
    status = 400
    default_message = "Your request was too big."


# --- browser uploads (PostObject): the form and its POST policy ------------------------------


class MalformedPOSTRequest(S3Error):
    code = "MalformedPOSTRequest"
    status = 400
    default_message = "The body of your POST request is not well-formed multipart/form-data."


class MaxPostPreDataLengthExceeded(S3Error):
    code = "MaxPostPreDataLengthExceeded"
    status = 400
    default_message = "Your POST request fields preceding the upload file were too large."


class IncorrectNumberOfFilesInPostRequest(S3Error):
    code = "IncorrectNumberOfFilesInPostRequest"
    status = 400
    default_message = "POST requires exactly one file upload per request."


class InvalidPolicyDocument(S3Error):
    code = "InvalidPolicyDocument"
    status = 400
    default_message = (
        "The content of the form does not meet the conditions specified in the policy document."
    )


class MetadataTooLarge(S3Error):
    code = "MetadataTooLarge"
    status = 400
    default_message = "Your metadata headers exceed the maximum allowed metadata size."


class MethodNotAllowed(S3Error):
    code = "MethodNotAllowed"
    status = 405
    default_message = "The specified method is not allowed against this resource."


class MissingContentLength(S3Error):
    code = "MissingContentLength"
    status = 411
    default_message = "You must provide the Content-Length HTTP header."


class NoSuchBucket(S3Error):
    code = "NoSuchBucket"
    status = 404
    default_message = "The specified bucket does not exist"


class NoSuchBucketPolicy(S3Error):
    code = "NoSuchBucketPolicy"
    status = 404
    default_message = "The bucket policy does not exist"


class NoSuchCORSConfiguration(S3Error):
    code = "NoSuchCORSConfiguration"
    status = 404
    default_message = "The CORS configuration does not exist"


class NoSuchKey(S3Error):
    code = "NoSuchKey"
    status = 404
    default_message = "The specified key does not exist."


class NoSuchLifecycleConfiguration(S3Error):
    code = "NoSuchLifecycleConfiguration"
    status = 404
    default_message = "The lifecycle configuration does not exist"


class NoSuchTagSet(S3Error):
    code = "NoSuchTagSet"
    status = 404
    default_message = "The TagSet does not exist"


class NoSuchUpload(S3Error):
    code = "NoSuchUpload"
    status = 404
    default_message = (
        "The specified upload does not exist. The upload ID may be invalid, or the upload may"
        " have been aborted or completed."
    )


class NoSuchVersion(S3Error):
    code = "NoSuchVersion"
    status = 404
    default_message = "The specified version does not exist."


class NotImplementedError_(S3Error):
    code = "NotImplemented"
    status = 501
    default_message = "A header you provided implies functionality that is not implemented"


class PreconditionFailed(S3Error):
    code = "PreconditionFailed"
    status = 412
    default_message = "At least one of the pre-conditions you specified did not hold"


class QuotaExceeded(S3Error):
    """Nimbus bucket quota (bytes or objects) reached; MinIO and Ceph RGW use the same code."""

    code = "QuotaExceeded"
    status = 403
    default_message = "The bucket quota has been exceeded."


class RequestTimeout(S3Error):
    """The client left its connection idle mid-request longer than the gateway waits."""

    code = "RequestTimeout"
    status = 400
    default_message = (
        "Your socket connection to the server was not read from or written to within the"
        " timeout period. Idle connections will be closed."
    )


class RequestHeaderSectionTooLarge(S3Error):
    code = "RequestHeaderSectionTooLarge"
    status = 400
    default_message = "Your request header section exceeds the maximum allowed size."


class BadRequest(S3Error):
    """A request that is not valid HTTP/1.1 (S3 answers these with this code and message)."""

    code = "BadRequest"
    status = 400
    default_message = "An error occurred when parsing the HTTP request."


class ServerSideEncryptionConfigurationNotFoundError(S3Error):
    code = "ServerSideEncryptionConfigurationNotFoundError"
    status = 404
    default_message = "The server side encryption configuration was not found"


class InvalidEncryptionAlgorithmError(S3Error):
    code = "InvalidEncryptionAlgorithmError"
    status = 400
    default_message = "The Encryption request you specified is not valid. Supported value: AES256."


class KMSNotFoundException(S3Error):
    code = "KMS.NotFoundException"
    status = 400
    default_message = "Invalid keyId"


class RequestTimeTooSkewed(S3Error):
    code = "RequestTimeTooSkewed"
    status = 403
    default_message = "The difference between the request time and the current time is too large."


class SignatureDoesNotMatch(S3Error):
    code = "SignatureDoesNotMatch"
    status = 403
    default_message = (
        "The request signature we calculated does not match the signature you provided."
        " Check your key and signing method."
    )


class XAmzContentSHA256Mismatch(S3Error):
    code = "XAmzContentSHA256Mismatch"
    status = 400
    default_message = "The provided 'x-amz-content-sha256' header does not match what was computed."


class InvalidChecksum(S3Error):
    """AWS answers a bad ``x-amz-checksum-*`` value with BadDigest; a malformed one with this."""

    code = "InvalidRequest"
    status = 400
    default_message = "Value for x-amz-checksum header is invalid."


class AuthorizationHeaderMalformed(S3Error):
    code = "AuthorizationHeaderMalformed"
    status = 400
    default_message = "The authorization header is malformed."


class AuthorizationQueryParametersError(S3Error):
    code = "AuthorizationQueryParametersError"
    status = 400
    default_message = "Error parsing the X-Amz-Credential parameter."


class ExpiredToken(S3Error):
    code = "AccessDenied"
    status = 403
    default_message = "Request has expired"


class InvalidStorageClass(S3Error):
    code = "InvalidStorageClass"
    status = 400
    default_message = "The storage class you specified is not valid"


class OperationAborted(S3Error):
    code = "OperationAborted"
    status = 409
    default_message = (
        "A conflicting conditional operation is currently in progress against this resource."
    )


class NotModified(S3Error):
    """Not an error document: a 304 with no body. Raised so handlers stay linear."""

    code = "NotModified"
    status = 304
    default_message = "Not Modified"


class InvalidEncodingType(S3Error):
    code = "InvalidArgument"
    status = 400
    default_message = "Invalid Encoding Method specified in Request"


class TooManyParts(S3Error):
    code = "InvalidArgument"
    status = 400
    default_message = "Part number must be an integer between 1 and 10000, inclusive"


class IllegalVersioningConfiguration(S3Error):
    code = "IllegalVersioningConfigurationException"
    status = 400
    default_message = "The Versioning element must be specified"


class CORSForbidden(S3Error):
    code = "AccessForbidden"
    status = 403
    default_message = "CORSResponse: This CORS request is not allowed."


class MalformedACLError(S3Error):
    code = "MalformedACLError"
    status = 400
    default_message = (
        "The XML you provided was not well-formed or did not validate against our published schema"
    )


class MalformedTrailerError(S3Error):
    code = "MalformedTrailerError"
    status = 400
    default_message = (
        "The request contained trailing data that was not well-formed or did not conform to"
        " our published schema."
    )


class EntityAlreadyExists(S3Error):
    """An admin request to create a credential whose access key is taken (IAM's code)."""

    code = "EntityAlreadyExists"
    status = 409
    default_message = "An entity with this name already exists."


class InvalidURI(S3Error):
    """A request path that does not decode: bad percent-encoding of UTF-8, or raw non-UTF-8."""

    code = "InvalidURI"
    status = 400
    default_message = "Couldn't parse the specified URI."


class InvalidPartNumber(S3Error):
    code = "InvalidPartNumber"
    status = 416
    default_message = "The requested partnumber is not satisfiable"


class ServiceUnavailable(S3Error):
    """Too few storage nodes answered to reach a quorum; clients retry 503s."""

    code = "ServiceUnavailable"
    status = 503
    default_message = "Service is unable to handle request."


class InsufficientStorage(S3Error):
    """The storage nodes a write needs are full (WebDAV's 507, as Swift answers)."""

    code = "InsufficientStorage"
    status = 507
    default_message = "Not enough storage space to complete the request."


class NoSuchPublicAccessBlockConfiguration(S3Error):
    code = "NoSuchPublicAccessBlockConfiguration"
    status = 404
    default_message = "The public access block configuration was not found"


class OwnershipControlsNotFoundError(S3Error):
    code = "OwnershipControlsNotFoundError"
    status = 404
    default_message = "The bucket ownership controls were not found"


class AccessControlListNotSupported(S3Error):
    """An ACL other than the bucket owner's full control on a bucket whose ACLs are disabled
    (ObjectOwnership BucketOwnerEnforced)."""

    code = "AccessControlListNotSupported"
    status = 400
    default_message = "The bucket does not allow ACLs"


class InvalidBucketAclWithObjectOwnership(S3Error):
    """Disabling ACLs (BucketOwnerEnforced) on a bucket whose ACL grants anyone but its owner."""

    code = "InvalidBucketAclWithObjectOwnership"
    status = 400
    default_message = (
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
    )


class UnresolvableGrantByEmailAddress(S3Error):
    """An ACL grant to an e-mail address: Nimbus's identities (access keys) have none."""

    code = "UnresolvableGrantByEmailAddress"
    status = 400
    default_message = "The email address you provided does not match any account on record."


# --- server access logging (PutBucketLogging) -------------------------------------------------


class InvalidTargetBucketForLogging(S3Error):
    """The target bucket of a BucketLoggingStatus does not exist, or has another owner."""

    code = "InvalidTargetBucketForLogging"
    status = 400
    default_message = "The target bucket for logging does not exist"


class CrossLocationLoggingProhibited(S3Error):
    code = "CrossLocationLoggingProhibited"
    status = 403
    default_message = (
        "Cross-location logging not allowed. Buckets in one geographic location cannot log"
        " information to a bucket in another location."
    )


class InvalidBucketState(S3Error):
    code = "InvalidBucketState"
    status = 409
    default_message = "The request is not valid with the current state of the bucket."


class ObjectLockConfigurationNotFoundError(S3Error):
    code = "ObjectLockConfigurationNotFoundError"
    status = 404
    default_message = "Object Lock configuration does not exist for this bucket"


class NoSuchObjectLockConfiguration(S3Error):
    code = "NoSuchObjectLockConfiguration"
    status = 404
    default_message = "The specified object does not have a ObjectLock configuration"


class InvalidRetentionPeriod(S3Error):
    code = "InvalidRetentionPeriod"
    status = 400
    default_message = "Default retention period must be a positive integer value"
